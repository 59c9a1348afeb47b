"""pytest plugin: run dependency-injector's own tests with di-scopes' providers swapped in.

Loaded by ``compat/run.py`` into a pytest run over the tests it took from dependency-injector's
sdist. ``DI_SCOPES_COMPAT_TWIN`` (``c`` or ``py``) names the twin. The plugin

- puts the twin's ``ContextLocalSingleton`` and ``ContextLocalResource`` into
  ``dependency_injector.providers`` (after importing ``containers`` and ``wiring``: patching
  before would break Cython's type-size checks of those modules);
- keeps, in modules that parametrize over provider classes, only the runs with ours;
- runs every test body in a fresh scope (``async with`` for coroutine tests, on a new loop);
- marks the failures listed in ``BY_DESIGN`` as strict xfails: any other failure fails the run,
  and so does a listed test that passes. ``DI_SCOPES_COMPAT_RAW=1`` skips the marking, to see
  every failure.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import os

import pytest

# The failures that follow from di-scopes' design: file name -> test function -> reason.
# Every other failure is an incompatibility to fix.
BY_DESIGN = {
    "test_context_local_resource_py38.py": {
        "test_injection_in_different_context": (
            "tasks of one scope share its instances: asyncio.gather() in a scope gets one "
            "resource, where dependency-injector gives each task's context its own"
        ),
        "test_init_not_callable": (
            "a provides that is not callable is rejected when the provider is built "
            "(errors.Error naming the provider), not on the first init()"
        ),
        "test_repr": (
            "the repr names the di-scopes class, <di_scopes.ContextLocalResource(...)>, "
            "not dependency_injector.providers"
        ),
    },
    "test_singleton_py2_py3.py": {
        "test_repr": (
            "the repr names the di-scopes class, <di_scopes.ContextLocalSingleton(...)>, "
            "not dependency_injector.providers"
        ),
    },
    "test_async_injections_py36.py": {
        "test_async_injections_with_closing": (
            "dependency-injector's own @inject closes only its own resource classes: a scoped "
            "instance lives until its scope ends (di_scopes.fastapi.inject honours Closing)"
        ),
        "test_async_injections_with_closing_concurrently": (
            "tasks of one scope share its instances: two gathered calls get one resource"
        ),
    },
}

TWIN = os.environ.get("DI_SCOPES_COMPAT_TWIN", "c")
RAW = os.environ.get("DI_SCOPES_COMPAT_RAW", "") not in ("", "0")


def pytest_configure(config: pytest.Config) -> None:
    import dependency_injector.containers  # noqa: F401  (before the patch: see above)
    import dependency_injector.wiring  # noqa: F401
    from dependency_injector import providers

    twin = importlib.import_module(f"di_scopes._scope_{TWIN}")
    config._di_scopes_twin = twin  # type: ignore[attr-defined]
    providers.ContextLocalSingleton = twin.ContextLocalSingleton
    providers.ContextLocalResource = twin.ContextLocalResource
    config.addinivalue_line("markers", "asyncio: a coroutine test, run in a scope on a new event loop")


def _ours(config: pytest.Config) -> tuple:
    twin = config._di_scopes_twin  # type: ignore[attr-defined]
    return (twin.ContextLocalSingleton, twin.ContextLocalResource)


def _provider_classes(item: pytest.Item) -> list:
    from dependency_injector import providers

    callspec = getattr(item, "callspec", None)
    if callspec is None:
        return []
    return [
        value for value in callspec.params.values() if isinstance(value, type) and issubclass(value, providers.Provider)
    ]


def pytest_collection_modifyitems(config: pytest.Config, items: list) -> None:
    ours = _ours(config)
    # Modules that run a test for each of several provider classes, ours among them.
    parametrized = {item.path for item in items if any(cls in ours for cls in _provider_classes(item))}
    selected, deselected = [], []
    for item in items:
        if item.path in parametrized and not any(cls in ours for cls in _provider_classes(item)):
            deselected.append(item)
            continue
        selected.append(item)
        reason = BY_DESIGN.get(item.path.name, {}).get(getattr(item, "originalname", item.name))
        if reason is not None and not RAW:
            item.add_marker(pytest.mark.xfail(reason=f"by design: {reason}", strict=True))
    if deselected:
        config.hook.pytest_deselected(items=deselected)
        items[:] = selected


@pytest.hookimpl(tryfirst=True)
def pytest_pyfunc_call(pyfuncitem: pytest.Function) -> bool:
    twin = pyfuncitem.config._di_scopes_twin  # type: ignore[attr-defined]
    function = pyfuncitem.obj
    kwargs = {name: pyfuncitem.funcargs[name] for name in pyfuncitem._fixtureinfo.argnames}
    if inspect.iscoroutinefunction(function):

        async def in_scope() -> None:
            async with twin.scope():
                await function(**kwargs)

        asyncio.run(in_scope())
    else:
        with twin.scope():
            function(**kwargs)
    return True
