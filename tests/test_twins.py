"""The twin selector, and both twins answering the same scenarios the same way."""

from __future__ import annotations

import asyncio
import importlib
import os
import re
import subprocess
import sys
import sysconfig
import textwrap

import pytest
from dependency_injector import providers

import di_scopes
from conftest import c_extensions_expected


def run_python(code, **env):
    environment = {**os.environ, **env}
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_compiled_twin_is_active_when_expected(request):
    if c_extensions_expected(request.config):
        assert di_scopes.IMPLEMENTATION == "cython", (
            "the compiled twin did not import; reinstall with DI_SCOPES_REQUIRE_EXTENSION=1 to see why"
        )
    elif os.environ.get("DI_SCOPES_NO_EXTENSIONS", "") not in ("", "0"):
        assert di_scopes.IMPLEMENTATION == "python"
    else:  # --no-c-extensions: whichever twin is active, the flag must name it
        try:
            importlib.import_module("di_scopes._scope_c")
        except ImportError:
            assert di_scopes.IMPLEMENTATION == "python"
        else:
            assert di_scopes.IMPLEMENTATION == "cython"


def test_exports_come_from_the_active_twin():
    twin = importlib.import_module(
        "di_scopes._scope_c" if di_scopes.IMPLEMENTATION == "cython" else "di_scopes._scope_py"
    )
    for name in ("ContextLocalResource", "ContextLocalSingleton", "Scope", "ScopeValue", "current_scope", "scope"):
        assert getattr(di_scopes, name) is getattr(twin, name)
    assert di_scopes.ScopeError is twin.ScopeError


@pytest.mark.slow
def test_environment_variable_selects_the_pure_twin():
    out = run_python(
        """
        import di_scopes
        print(di_scopes.IMPLEMENTATION, di_scopes.Scope.__module__)
        """,
        DI_SCOPES_NO_EXTENSIONS="1",
    )
    assert out == "python di_scopes._scope_py"


@pytest.mark.slow
def test_zero_does_not_disable_extensions(request):
    if not c_extensions_expected(request.config):
        pytest.skip("needs the compiled twin, deselected by --no-c-extensions")
    out = run_python("import di_scopes; print(di_scopes.IMPLEMENTATION)", DI_SCOPES_NO_EXTENSIONS="0")
    assert out == "cython"


def test_a_dependency_injector_laid_out_otherwise_gets_the_pure_twin_with_a_warning(request):
    """The compiled twin reads dependency-injector's Factory at C level and checks, at import,
    that what it reads is what the Factory's properties give. A dependency-injector whose Factory
    answers otherwise (here a Factory whose ``args`` adds an argument) must not be read wrongly:
    the import falls back to the pure twin, says so, and the pure twin works."""
    if not c_extensions_expected(request.config):
        pytest.skip("needs the compiled twin, deselected by --no-c-extensions")
    out = run_python(
        """
        import warnings

        from dependency_injector import containers, providers


        class Factory(providers.Factory):
            # A subclass that Cython's import of the cimported type accepts (the type's C
            # methods table), whose Python view of the injections differs from its C fields.
            __pyx_vtable__ = providers.Factory.__pyx_vtable__

            @property
            def args(self):
                return ("moved",) + super().args


        providers.Factory = Factory  # what the compiled twin's layout check builds and reads

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            import di_scopes

        print(di_scopes.IMPLEMENTATION)
        (warning,) = [w for w in caught if "compiled twin" in str(w.message)]
        print(warning.category.__name__)
        print(warning.message)


        def session():
            yield "session"


        class Container(containers.DeclarativeContainer):
            session = di_scopes.ContextLocalResource(session)


        with di_scopes.scope():
            print(Container().session())
        """
    )
    implementation, category, message, resolved = out.splitlines()
    assert (implementation, category, resolved) == ("python", "RuntimeWarning", "session")
    assert "pure-Python twin" in message and "four times" in message
    assert "--no-binary di-scopes" in message and "dependency-injector>=" in message


# Parity -------------------------------------------------------------------------------------


def scenario_log(twin):
    """Run a fixed set of scenarios on one twin; return what happened, as plain data."""
    log = []

    def resource(name):
        log.append(f"open {name}")
        try:
            yield name
            log.append(f"commit {name}")
        except BaseException as error:
            log.append(f"rollback {name} {type(error).__name__}")
            raise
        finally:
            log.append(f"close {name}")

    def failing_teardown():
        yield "f"
        raise OSError("teardown")

    async def async_resource(name):
        log.append(f"aopen {name}")
        try:
            yield name
        finally:
            log.append(f"aclose {name}")

    a = twin.ContextLocalResource(resource, "a")
    b = twin.ContextLocalResource(resource, "b")
    f = twin.ContextLocalResource(failing_teardown)
    named = twin.ContextLocalResource(resource, "conn").in_scope("conn")
    single = twin.ContextLocalSingleton(dict, session=a)
    factory = providers.List(a, b)
    ar = twin.ContextLocalResource(async_resource, "ar")

    def attempt(label, fn):
        try:
            result = fn()
        except BaseException as error:  # noqa: B902 - recording the type is the point
            log.append(f"{label}: {type(error).__name__}")
            group = BaseExceptionGroup if sys.version_info >= (3, 11) else Exception  # noqa: F821 - 3.11+ only
            if isinstance(error, group):
                log.append(f"{label} group: {[type(e).__name__ for e in getattr(error, 'exceptions', [])]}")
            return None
        log.append(f"{label}: ok {result!r}")
        return result

    attempt("no scope", a)

    def ok():
        with twin.scope():
            return [single()["session"], factory(), a() is single()["session"]]

    attempt("ok", ok)

    def fail():
        with twin.scope():
            b(), a()
            raise KeyError("k")

    attempt("fail", fail)

    def teardown_error():
        with twin.scope():
            f(), a()

    attempt("teardown error", teardown_error)

    def nested():
        with twin.scope("conn"):
            with twin.scope("msg"):
                named(), a()
            log.append("inner closed")
            return named()

    attempt("nested", nested)

    def unknown_name():
        with twin.scope("x"):
            return named()

    attempt("unknown name", unknown_name)

    async def async_cycle():
        async with twin.scope():
            values = await asyncio.gather(ar(), ar())
            a()
            return values

    attempt("async", lambda: asyncio.run(async_cycle()))

    async def async_in_sync_close():
        with twin.scope():
            await ar()

    attempt("async in sync close", lambda: asyncio.run(async_in_sync_close()))

    value = twin.ScopeValue("k")

    def values():
        outer = twin.scope()
        outer.set_value("k", 1)  # before entering
        with outer:
            with twin.scope("inner") as inner:
                seen = [value(), inner.get_value("k"), inner.get_value("missing", "d")]
                inner.set_value("k", 2)  # hides the outer value
                seen.append(value())
            seen.append(value())
        return seen

    attempt("values", values)
    attempt("value outside", value)

    def value_missing():
        with twin.scope("job"):
            return twin.ScopeValue("absent")()

    attempt("value missing", value_missing)

    def value_in_closed_scope():
        closed = twin.scope()
        closed.close()
        closed.set_value("k", 1)

    attempt("value in closed scope", value_in_closed_scope)
    return log


def test_both_twins_tell_the_same_story(request):
    if not c_extensions_expected(request.config):
        pytest.skip("parity needs the compiled twin, deselected by --no-c-extensions")
    c = scenario_log(importlib.import_module("di_scopes._scope_c"))
    py = scenario_log(importlib.import_module("di_scopes._scope_py"))
    assert c == py
    assert "no scope: ScopeError" in c
    assert "fail: KeyError" in c
    assert "async in sync close: ScopeError" in c
    assert "values: ok [1, 1, 'd', 2, 1]" in c
    assert "value missing: ScopeError" in c and "value in closed scope: ScopeError" in c


@pytest.mark.slow
@pytest.mark.skipif(not sysconfig.get_config_var("Py_GIL_DISABLED"), reason="free-threaded CPython only")
def test_on_free_threaded_python_only_dependency_injector_asks_for_the_gil(request):
    """The compiled twin declares free-threading support; dependency-injector does not yet, so
    importing it is what turns the GIL back on (unless PYTHON_GIL=0)."""
    if not c_extensions_expected(request.config):
        pytest.skip("the compiled twin is not expected here")
    environment = {name: value for name, value in os.environ.items() if name != "PYTHON_GIL"}
    result = subprocess.run(
        [sys.executable, "-v", "-c", "import di_scopes._scope_c"],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    asking = re.findall(r"# loading module '([^']+)', which requires the GIL", result.stderr)
    assert asking, "no module asked for the GIL: has dependency-injector declared free-threading support?"
    assert "di_scopes._scope_c" not in asking
    assert all(name.split(".")[0] == "dependency_injector" for name in asking), asking
