"""The documentation's examples are tests: every Python block of README.md and of docs/ runs.

sybil collects the Markdown files; the blocks of one file run in order in one namespace, which
is also a module (``docs_<file>``) that dependency-injector's ``wire(modules=[__name__])`` and
the frameworks can look up. Hidden blocks (``<!-- invisible-code-block: python ... -->``) set up
what a page assumes and check what it claims, with the suite's own servers where one is needed.
"""

from __future__ import annotations

import re
import sys
import types
from typing import Any

from sybil import Sybil
from sybil.integration.pytest import SybilItem
from sybil.parsers.myst import CodeBlockParser, SkipParser


def _setup(namespace: dict[str, Any]) -> None:
    path = str(namespace.get("__file__", "document"))
    name = "docs_" + re.sub(r"\W", "_", path.rsplit("/", 1)[-1].rsplit(".", 1)[0])
    module = types.ModuleType(name)
    module.__file__ = path
    sys.modules[name] = module
    module.ask = _ask  # for the hidden checks
    namespace["__document_module__"] = module
    # For `<!-- skip: start if(not DEPENDENCY_INJECTOR_HAS_CONTEXT_LOCAL, reason=...) -->`:
    # dependency-injector's own ContextLocal* providers arrived in 4.46.
    from dependency_injector import providers

    namespace["DEPENDENCY_INJECTOR_HAS_CONTEXT_LOCAL"] = hasattr(providers, "ContextLocalResource")


def _ask(app: Any, *requests: Any) -> list:
    """Send ``requests`` (``"GET /path"``, or ``("POST /path", json)``) to the ASGI ``app`` in
    process, one after another; return the responses."""
    import asyncio

    import httpx

    async def run() -> list:
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            responses = []
            for request in requests:
                line, body = (request, None) if isinstance(request, str) else request
                method, path = line.split(" ", 1)
                responses.append(await client.request(method, path, json=body))
            return responses

    return asyncio.run(run())


def _evaluate(example: Any) -> None:
    """Run a block in the document's module, its line numbers those of the file."""
    module = example.namespace["__document_module__"]
    source = "\n" * example.line + str(example.parsed)
    exec(compile(source, example.path, "exec", dont_inherit=True), module.__dict__)


def _teardown(namespace: dict[str, Any]) -> None:
    module = namespace.get("__document_module__")
    if module is None:
        return
    sys.modules.pop(module.__name__, None)
    for name in ("container", "Container", "async_container"):
        unwire = getattr(getattr(module, name, None), "unwire", None)
        if callable(unwire):
            try:
                unwire()
            except Exception:
                pass


_sybil_filter = SybilItem._traceback_filter


def _traceback_filter(self: SybilItem, excinfo: Any) -> Any:
    """sybil's filter, except for an exception chained to one whose traceback never entered the
    example (``except KeyError: assert ...``), where sybil's raises IndexError and pytest then
    reports an INTERNALERROR instead of the failure: show the whole traceback there."""
    try:
        return _sybil_filter(self, excinfo)
    except IndexError:
        return excinfo.traceback


SybilItem._traceback_filter = _traceback_filter  # type: ignore[method-assign]

pytest_collect_file = Sybil(
    parsers=[CodeBlockParser(language="python", evaluator=_evaluate), SkipParser()],
    patterns=["README.md", "docs/*.md", "docs/**/*.md"],
    excludes=["docs/benchmarks.md", "docs/_build/*"],
    setup=_setup,
    teardown=_teardown,
).pytest()
