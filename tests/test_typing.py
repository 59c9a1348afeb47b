"""The published types: ``mypy --strict`` accepts user-style code against the package."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.mark.slow
def test_user_code_type_checks_strictly():
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--strict", "--no-incremental", str(HERE / "typing")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
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


@pytest.mark.slow
def test_compiled_twin_stub_matches_the_compiled_module(request, tmp_path):
    """``mypy.stubtest``: the stub of the compiled twin says what the module has, name by name,
    down to final classes and disjoint bases. Run where the installed package lives, so that
    mypy reads the stub beside the module."""
    from conftest import c_extensions_expected

    if not c_extensions_expected(request.config):
        pytest.skip("this run tests the pure twin only (--no-c-extensions): no compiled module to compare")
    import os

    import di_scopes._scope_c

    # mypy reads the stub from a copy of the package's typed files (MYPYPATH), not from where the
    # package is installed: site-packages may hold modules that shadow the standard library's.
    stubs = tmp_path / "stubs" / "di_scopes"
    stubs.mkdir(parents=True)
    package = Path(di_scopes._scope_c.__file__).parent
    for source in [*package.glob("*.py"), *package.glob("*.pyi"), package / "py.typed"]:
        shutil.copy(source, stubs / source.name)
    result = subprocess.run(
        [sys.executable, "-m", "mypy.stubtest", "di_scopes._scope_c"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
        env={**os.environ, "MYPYPATH": str(tmp_path / "stubs")},
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_compiled_twin_stub_names_every_public_name_of_the_pure_twin():
    import di_scopes._scope_py as pure

    stub = (Path(pure.__file__).parent / "_scope_c.pyi").read_text()
    for name in pure.__all__:
        assert f'"{name}"' in stub, name


@pytest.mark.slow
def test_user_code_type_checks_under_pyright_strict():
    """The same user-style code under pyright's strict mode (basedpyright, which ships its own
    Node.js on PyPI: the npm registry is not needed)."""
    pyright = shutil.which("basedpyright", path=str(Path(sys.executable).parent))
    assert pyright is not None, "basedpyright is in the test extra"
    result = subprocess.run(
        [pyright, "--pythonpath", sys.executable],
        capture_output=True,
        text=True,
        timeout=600,
        cwd=HERE / "typing",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 errors" in result.stdout
