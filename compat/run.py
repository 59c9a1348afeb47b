"""Run dependency-injector's own tests for its context-local providers against di-scopes' providers.

    python compat/run.py            # both twins, against the installed dependency-injector
    python compat/run.py --twin py  # one twin
    python compat/run.py --raw      # every failure, the by-design ones unmarked
    python compat/run.py --cache D  # keep the downloaded sdist in D, and reuse it

It downloads the sdist of the installed dependency-injector from PyPI (``pip download``), takes
from its ``tests/`` the test modules that use ``ContextLocalSingleton`` or
``ContextLocalResource``, directly or through a sample module, and runs them with pytest and the
``di_scopes_compat`` plugin beside this file, once per twin. The by-design failures are listed in
that plugin; any other failure makes this script exit non-zero. Nothing of dependency-injector's
is kept in this repository.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tarfile
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

HERE = Path(__file__).resolve().parent
NAMES = re.compile(r"\bContextLocal(Singleton|Resource)\b")
PYTEST_INI = """\
[pytest]
addopts = -p no:cacheprovider -p no:asyncio
filterwarnings =
    ignore::DeprecationWarning
"""


def download_sdist(release: str, into: Path) -> Path:
    """The sdist of ``release`` in ``into``, downloaded unless it is there already."""
    into.mkdir(parents=True, exist_ok=True)
    cached = into / f"dependency_injector-{release}.tar.gz"
    if cached.exists():
        return cached
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--no-binary",
            ":all:",
            f"dependency-injector=={release}",
            "--dest",
            str(into),
        ],
        check=True,
    )
    return cached


def extract_tests(sdist: Path, into: Path) -> Path:
    with tarfile.open(sdist) as tar:
        members = [m for m in tar.getmembers() if m.name.split("/")[1:2] == ["tests"]]
        tar.extractall(into, members=members, filter="data")
    (root,) = into.iterdir()
    (root / "pytest.ini").write_text(PYTEST_INI)
    return root


def select_tests(root: Path) -> list[Path]:
    """Test modules that use the two providers, directly or through a module they import."""
    tests = root / "tests" / "unit"
    helpers = {
        ".".join(path.relative_to(tests).with_suffix("").parts)
        for path in tests.rglob("*.py")
        if not path.name.startswith("test_") and NAMES.search(path.read_text(encoding="utf-8"))
    }
    selected = []
    for path in sorted(tests.rglob("test_*.py")):
        text = path.read_text(encoding="utf-8")
        imports = {
            f"{package}.{name}"
            for package, names in re.findall(r"from (\S+) import ([\w, ]+)", text)
            for name in re.split(r"\s*,\s*", names.strip())
        }
        if NAMES.search(text) or imports & helpers:
            selected.append(path)
    return selected


def run_twin(root: Path, tests: list[Path], twin: str, raw: bool) -> int:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(HERE), env.get("PYTHONPATH")]))
    env["DI_SCOPES_COMPAT_TWIN"] = twin
    env["DI_SCOPES_COMPAT_RAW"] = "1" if raw else ""
    env.pop("DI_SCOPES_NO_EXTENSIONS", None)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "-p",
        "di_scopes_compat",
        "-c",
        str(root / "pytest.ini"),
        "--rootdir",
        str(root),
        "-q",
        "-rfEX" if raw else "-rfEXx",
        *(str(path.relative_to(root)) for path in tests),
    ]
    return subprocess.run(command, cwd=root, env=env).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--twin", action="append", choices=["c", "py"], help="default: both")
    parser.add_argument("--raw", action="store_true", help="do not mark the by-design failures")
    parser.add_argument("--cache", type=Path, help="keep the downloaded sdists here (default: not kept)")
    options = parser.parse_args()
    release = version("dependency-injector")
    started = time.monotonic()
    outcome = {}
    with tempfile.TemporaryDirectory(prefix="di-scopes-compat-") as tmp:
        sdist = download_sdist(release, options.cache or Path(tmp) / "download")
        root = extract_tests(sdist, Path(tmp) / "sdist")
        tests = select_tests(root)
        print(f"dependency-injector {release}: {len(tests)} test modules from its sdist")
        for path in tests:
            print(f"  {path.relative_to(root)}")
        for twin in options.twin or ["c", "py"]:
            print(f"\n== twin {twin}", flush=True)
            outcome[twin] = run_twin(root, tests, twin, options.raw)
    summary = ", ".join(f"{twin}: {'passed' if code == 0 else f'FAILED ({code})'}" for twin, code in outcome.items())
    print(f"\ndependency-injector {release} compatibility: {summary} ({time.monotonic() - started:.0f} s)")
    return 0 if not any(outcome.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
