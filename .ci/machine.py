"""What noxfile.py needs from this CI machine in particular; noxfile.py imports it from .ci/.

Two things are particular to the machine, not to the packaging matrix:

- CPython 3.10 to 3.13 are pyenv builds (PYENV_ROOT, default ~/.pyenv). `use_pyenv_pythons` puts
  their bin folders first on PATH, so that nox's "3.10" ... "3.13" resolve to them rather than to
  pyenv's shims (which only run the active version) or to a system Python without headers.
- CPython 3.14 and 3.15 are not installed: Debian sid's python3.14 and python3.15 run in chroots
  made by .ci/sid-root, one per version, kept outside any checkout so that later runs on the
  machine reuse them (DI_SCOPES_SID_ROOT_3_15, say, names another place). `make_sid_root` and
  `run_suite_in_sid_root` are the body of the tests-3.14 and tests-3.15 sessions.
"""

from __future__ import annotations

import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import Callable
from pathlib import Path

import nox

HERE = Path(__file__).resolve().parent
SID_ROOT_SCRIPT = HERE / "sid-root"
SID_PYTHONS = ["3.14", "3.15"]


def use_pyenv_pythons(versions: list[str]) -> None:
    """Put the bin folder of every pyenv interpreter whose X.Y is in ``versions`` first on PATH."""
    installed = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    bins = [
        str(bin_dir)
        for bin_dir in sorted(installed.glob("3.*/bin"))
        if bin_dir.parent.name.rsplit(".", 1)[0] in versions
    ]
    os.environ["PATH"] = os.pathsep.join([*bins, os.environ.get("PATH", "")])


def sid_root_dir(python: str) -> Path:
    default = f"/var/cache/di-scopes/sid-{python}"
    return Path(os.environ.get(f"DI_SCOPES_SID_ROOT_{python.replace('.', '_')}", default))


def make_sid_root(session: nox.Session, python: str) -> Path:
    """The Debian sid root with CPython ``python``, made when missing (which needs root)."""
    if os.geteuid() != 0:
        session.error(f"tests-{python} runs CPython {python} in a chroot: run it as root")
    root = sid_root_dir(python)
    session.run(str(SID_ROOT_SCRIPT), "build", str(root), external=True, env={"SID_PYTHON": python})
    return root


def run_suite_in_sid_root(
    session: nox.Session,
    root: Path,
    python: str,
    sdist: Path,
    *,
    build_constraints: Path,
    tools: Path,
    check_wheel: Callable[[nox.Session, Path], None],
) -> None:
    """sdist -> wheel with the compiled twin required -> the whole suite, PostgreSQL and Redis
    tests required, all inside ``root`` with its CPython ``python``.

    The sdist comes from outside; the wheel is built inside the root, where the interpreter is,
    and ``check_wheel`` checks it before it is installed."""
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
            str(SID_ROOT_SCRIPT),
            "run",
            str(root),
            "env",
            "-i",
            "-C",
            cwd,
            *assignments,
            *command,
            external=True,
            silent=silent,
        )

    try:
        for source in (sdist, build_constraints, tools):
            shutil.copy(source, work / source.name)
        with tarfile.open(sdist) as tar:
            tar.extractall(work / "unpacked", filter="data")
        (project,) = (work / "unpacked").iterdir()

        # The arq test's Redis server (roots made before it was needed lack it).
        in_root(
            "sh",
            "-c",
            "command -v redis-server >/dev/null || (apt-get -o Acquire::Check-Valid-Until=false update -qq"
            " && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server)",
        )
        in_root(f"python{python}", "-m", "venv", venv)
        in_root("python", "-m", "pip", "install", "-q", "-c", f"{inside}/{tools.name}", "pip")
        in_root(
            "pip",
            "wheel",
            "--no-deps",
            "--no-cache-dir",
            "--build-constraint",
            f"{inside}/{build_constraints.name}",
            "--wheel-dir",
            f"{inside}/wheel",
            f"{inside}/{sdist.name}",
            DI_SCOPES_REQUIRE_EXTENSION="1",
        )
        (wheel,) = (work / "wheel").glob("di_scopes-*.whl")
        check_wheel(session, wheel)
        in_root("pip", "install", "-q", f"{inside}/wheel/{wheel.name}[test]")
        report = in_root(
            "python",
            "-c",
            "import json, platform, di_scopes; "
            "print(json.dumps([platform.python_version(), di_scopes.IMPLEMENTATION, di_scopes.__file__]))",
            silent=True,
        )
        version, active, location = json.loads(report.strip().splitlines()[-1])
        if active != "cython" or not location.startswith(venv):
            session.error(f"wanted the installed cython twin, got {active} from {location}")
        session.log(f"CPython {version} in {root}: di_scopes {active} twin from {location}")
        in_root(
            "python",
            "-m",
            "pytest",
            *session.posargs,
            cwd=f"{inside}/unpacked/{project.name}",
            DI_SCOPES_REQUIRE_POSTGRES="1",
            DI_SCOPES_REQUIRE_REDIS="1",
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)
