"""The published types: ``mypy --strict`` accepts user-style code against the package."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def test_user_code_type_checks_strictly():
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(HERE / "typing")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_package_is_strictly_typed():
    """The package's own annotations (the pure twin, the stub of the compiled one, the
    integrations) pass ``mypy --strict``."""
    import di_scopes

    package = Path(di_scopes.__file__).parent
    files = [str(p) for p in sorted(package.glob("*.py")) + [package / "_scope_c.pyi"] if p.name != "__init__.py"]
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", *files],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compiled_twin_stub_matches_the_pure_twin():
    """Every public name of the pure twin is in the stub of the compiled one."""
    import di_scopes._scope_py as pure

    stub = (Path(pure.__file__).parent / "_scope_c.pyi").read_text()
    for name in pure.__all__:
        assert f"{name}" in stub, name
    for method in ("in_scope", "scope_name", "initialized", "init", "shutdown", "reset", "aclose", "close"):
        assert f"def {method}" in stub, method
