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


def test_package_is_strictly_typed(tmp_path):
    """The package's own annotations (the pure twin, the stub of the compiled one, the
    integrations) pass ``mypy --strict``. Checked on a copy: mypy refuses to check files inside
    site-packages, where an installed package lives."""
    import shutil

    import di_scopes

    package = Path(di_scopes.__file__).parent
    copy = tmp_path / "di_scopes"
    copy.mkdir()
    for source in [*package.glob("*.py"), *package.glob("*.pyi"), package / "py.typed"]:
        shutil.copy(source, copy / source.name)
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "di_scopes"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
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
