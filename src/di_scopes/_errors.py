"""di-scopes' exceptions and error messages, shared by both twins and the integrations.

Each message names the provider or scope concerned, says what to do, and (through ``explained``)
ends with the section of the troubleshooting guide (docs/troubleshooting.md) that explains it.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import (
    Any,
)

from dependency_injector import errors

if sys.version_info >= (3, 11):
    pass
else:  # pragma: no cover - exercised on 3.10 only
    pass


class ScopeError(RuntimeError):
    """A scoped provider or a scope was used in a way that cannot work.

    Raised when a scoped provider is resolved with no active scope, in a closed scope, or bound to
    a scope name that is not active; when a scope is entered twice; and when a synchronous close
    meets asynchronous resources. The message names the provider and says how to fix it.
    """


class ErrorResponse(Exception):
    """Thrown into a request scope's resources when its response has a failure status.

    An exception handler that turns an error into a response (``HTTPException``, a custom
    handler) keeps the exception from the middleware; the middleware sees only the status. It
    ends the scope with this exception, so ``except Exception: rollback; raise`` rolls back.
    """

    def __init__(self, status: int) -> None:
        super().__init__(f"the response has status {status}")
        self.status = status


class ClientDisconnected(Exception):
    """Thrown into a request scope's resources when its response was not sent to the end.

    The client went away while the body was being sent (Starlette then cancels a streaming body
    and returns normally; a WSGI server closes the body before it is exhausted), or the
    application returned without sending a response. The work of such a request is not known to
    have reached anyone, so ``except Exception: rollback; raise`` rolls it back.
    """

    def __init__(self, detail: str = "the response was not sent to the end") -> None:
        super().__init__(detail)


def describe(provider: Any) -> str:
    """Name a provider the way a user recognises it: its class and what it provides."""
    provides = provider.provides
    name = getattr(provides, "__qualname__", None) or repr(provides)
    return f"{type(provider).__name__}({name})"


def public_name(provider: Any) -> str:
    """``di_scopes.ContextLocalSingleton`` for both twins' classes, ``module.Name`` for a subclass."""
    cls = type(provider)
    module = cls.__module__
    if module in ("di_scopes._scope_c", "di_scopes._scope_py"):
        module = "di_scopes"
    return f"{module}.{cls.__qualname__}"


def represent(provider: Any) -> str:
    """The repr dependency-injector gives its providers, with the public name of ours."""
    provides = provider.provides
    return f"<{public_name(provider)}({'' if provides is None else repr(provides)}) at {hex(id(provider))}>"


class NonCopyableArgumentError(errors.NonCopyableArgumentError):
    """dependency-injector's error for an argument a container cannot copy, naming the scoped
    provider that was given it, and what to do."""

    def __str__(self) -> str:
        where = f"keyword argument {self.keyword!r}" if self.keyword else f"argument {self.index}"
        failure = getattr(self.__cause__, "__cause__", None)  # what copying the argument raised
        raised = "" if failure is None else f" (copying it raised {type(failure).__name__}: {failure})"
        return (
            f"{describe(self.provider)} was given an object that cannot be copied as its {where}"
            f"{raised}. dependency-injector containers copy their providers' arguments when they are "
            "instantiated. Make such an object (an engine, a sessionmaker bound to one) with "
            "providers, so that each container makes its own: engine = "
            "providers.Singleton(create_engine, url), then session_factory = "
            "providers.Singleton(sessionmaker, bind=engine), the engine given as that provider, "
            "not as a module-level engine; or hand every container the same object with "
            "providers.Object(obj). "
            '(See "An argument that cannot be copied" in di-scopes\' troubleshooting guide.)'
        )


def no_provides_message(provider: Any) -> str:
    return (
        f"{public_name(provider)} was resolved, but it has nothing to provide: it was built "
        "without provides. Pass the callable that makes the instance to the constructor, or "
        "call set_provides(callable) before resolving it."
    )


def copy_initialized_message(provider: Any) -> str:
    return (
        f"Can not copy initialized resource {describe(provider)}: the current scope holds its "
        "instance, which a copy would not share. Copy it (instantiate the container) before "
        "resolving it in this scope, or outside any scope."
    )


#: Where the sections that ``explained`` names live.
TROUBLESHOOTING = "docs/troubleshooting.md"


def explained(section: str) -> Callable[[Callable[..., str]], Callable[..., str]]:
    """Make a message function end its message with the troubleshooting section that explains
    it; the suite checks that every section named exists."""

    def decorate(message: Callable[..., str]) -> Callable[..., str]:
        @functools.wraps(message)
        def with_section(*args: Any) -> str:
            return f'{message(*args)} (See "{section}" in di-scopes\' troubleshooting guide.)'

        with_section.section = section  # type: ignore[attr-defined]
        return with_section

    return decorate


@explained("Resolved outside any scope")
def no_scope_message(provider: Any) -> str:
    return (
        f"{describe(provider)} was resolved outside any scope. Resolve it inside "
        "`with di_scopes.scope():` or `async with di_scopes.scope():` (the web integrations open "
        "one per request). A middleware of your own sees the request's scope only if it runs "
        "inside the integration's: with FastAPI and Starlette the middleware added last is the "
        "outermost, so call app.add_middleware(ScopeMiddleware) after adding yours; with Django, "
        "list di_scopes.django.ScopeMiddleware above yours in MIDDLEWARE. Code running in another "
        "thread sees the scope only if the thread runs in a copy of the caller's context "
        "(contextvars.copy_context().run, asyncio.to_thread, anyio.to_thread.run_sync)."
    )


@explained("Only exclusive scopes are active")
def only_exclusive_message(provider: Any, current: Any) -> str:
    return (
        f"{describe(provider)} was resolved where the only active scopes are exclusive "
        f"({scope_chain(current)}, innermost first). An exclusive scope holds only the providers "
        "bound to its name with .in_scope(name); this one is bound to none. Open "
        "`with di_scopes.scope():` around this code (the ASGI and WSGI middlewares open one per "
        f"request), or bind the provider with .in_scope({current.name!r})."
    )


def scope_chain(scope: Any) -> str:
    names = []
    while scope is not None:
        names.append(repr(scope.name))
        scope = scope.parent
    return " > ".join(names) if names else "none"


@explained("Bound to a scope that is not active")
def unknown_scope_message(provider: Any, name: str, current: Any) -> str:
    return (
        f"{describe(provider)} is bound to scope {name!r}, but the active scopes are "
        f"{scope_chain(current)} (innermost first). Open `di_scopes.scope({name!r})` around this "
        "code, or bind the provider to a scope that is active with .in_scope(name)."
    )


@explained("The scope is closed or closing")
def closed_scope_message(provider: Any, scope: Any) -> str:
    return (
        f"{describe(provider)} was resolved in scope {scope.name!r}, which is closed or closing. "
        "A scope's instances are torn down when it exits: resolve inside the `with` block, or "
        "open a new scope for work that outlives it (a background job gets its own "
        "`@di_scopes.scope()`)."
    )


@explained("A provider depends on itself")
def circular_message(provider: Any) -> str:
    return (
        f"{describe(provider)} depends on itself: creating it resolved it again in the same "
        "scope. Break the cycle in the container."
    )


@explained("A provider depends on itself")
def thread_cycle_message(provider: Any) -> str:
    return (
        f"{describe(provider)} depends on itself: code that its creation started in another "
        "thread (in a copy of its context) resolved it again, and would wait for that creation "
        "forever. Break the cycle in the container, or resolve it once its creation has returned."
    )


@explained("A provider depends on itself")
def crossed_cycle_message(provider: Any) -> str:
    return (
        f"{describe(provider)} is being created in another thread that waits, through the "
        "creations it is in, for this thread: the providers being created depend on each other "
        "in a cycle, and both threads would wait forever. Break the cycle in the container."
    )


@explained("Entering and exiting scopes")
def reentered_message(scope: Any) -> str:
    return (
        f"scope {scope.name!r} was already entered; a Scope object runs once. Call "
        "di_scopes.scope() for each block (as a decorator it opens a fresh scope per call)."
    )


@explained("Entering and exiting scopes")
def not_entered_message(scope: Any) -> str:
    return (
        f"scope {scope.name!r} was exited without being entered; nothing was closed. Use "
        "`with di_scopes.scope():` or `async with di_scopes.scope():`, which enter and exit once."
    )


@explained("Entering and exiting scopes")
def exited_twice_message(scope: Any) -> str:
    return (
        f"scope {scope.name!r} was exited twice, or after an enclosing scope's exit closed it. "
        "Exit each scope once, innermost first (nested `with` blocks do)."
    )


@explained("Entering and exiting scopes")
def exited_out_of_order_message(scope: Any, inner: Sequence[Any]) -> str:
    names = ", ".join(repr(s.name) for s in inner)
    return (
        f"scope {scope.name!r} was exited while scopes entered inside it were still open "
        f"({names}, innermost first). Scopes exit innermost first (nested `with` blocks do); "
        "those scopes and this one were closed with this error thrown in."
    )


@explained("Entering and exiting scopes")
def copied_scope_message(scope: Any) -> str:
    return (
        f"{scope!r} cannot be copied or pickled: a scope is one unit of work, shared by reference. "
        f"Call di_scopes.scope({scope.name!r}) for a new one."
    )


def running_on_trio() -> bool:
    """Whether this thread runs trio's event loop (anyio's trio backend)."""
    trio = sys.modules.get("trio")
    if trio is None:
        return False
    try:
        trio.lowlevel.current_trio_token()
    except RuntimeError:
        return False
    return True


@explained("Asynchronous resources")
def no_loop_message(provider: Any) -> str:
    if running_on_trio():
        return (
            f"{describe(provider)} is asynchronous, and di-scopes' asynchronous resources need "
            "asyncio; this code runs on trio (anyio's trio backend). Run the application on "
            "asyncio (anyio's default backend), or make the resource synchronous: synchronous "
            "resources work on both."
        )
    return (
        f"{describe(provider)} is asynchronous and was resolved outside a running event loop. "
        "Await it from async code: `await container.provider()`."
    )


@explained("A resource generator must yield once")
def didnt_yield_message(provider: Any) -> str:
    return f"{describe(provider)}: the resource generator finished without yielding; it must yield once"


@explained("A resource generator must yield once")
def didnt_stop_message(provider: Any) -> str:
    return f"{describe(provider)}: the resource generator yielded again at teardown; it must yield once"


@explained("The scope is closed or closing")
def closed_during_creation_message(provider: Any, scope: Any) -> str:
    return (
        f"{describe(provider)} finished creating after scope {scope.name!r} began closing; it "
        "was torn down at once. Resolve it before the scope exits."
    )


def _left_open(scope_name: str, when: str, providers: Iterable[Any]) -> str:
    names = ", ".join(describe(p) for p in providers)
    return (
        f"scope {scope_name!r} was {when}, with live resources: {names}. "
        "Close scopes with `with`/`async with` or scope.close()/await scope.aclose()."
    )


@explained("A scope left open")
def exit_open_message(scope_name: str, providers: Iterable[Any]) -> str:
    return _left_open(scope_name, "still open at interpreter exit", providers)


@explained("A scope left open")
def gc_open_message(scope_name: str, providers: Iterable[Any]) -> str:
    return _left_open(scope_name, "garbage-collected while open", providers)


@explained("Asynchronous resources")
def async_left_message(scope: Any, providers: Sequence[Any]) -> str:
    names = ", ".join(describe(p) for p in providers)
    return (
        f"scope {scope.name!r} was closed synchronously but holds asynchronous resources, which "
        f"were not torn down: {names}. Use `async with di_scopes.scope():` or "
        "`await scope.aclose()` for scopes that create async resources."
    )


@explained("Resolved outside any scope")
def value_outside_scope_message(provider: Any) -> str:
    return (
        f"{describe(provider)} was resolved outside any scope. It injects a value put into the "
        "current scope, by an integration (the web integrations put the request there under "
        "di_scopes.REQUEST) or by `scope.set_value(key, value)`: resolve it while that scope is "
        "active."
    )


@explained("Writing an integration")
def no_current_scope_message() -> str:
    return (
        "note_error() found no current scope: call it where the request's scope is current, or "
        "pass the scope that di_scopes.integration.enter() returned."
    )


@explained("validate() reports problems")
def problems_message(problems: Sequence[str]) -> str:
    count = len(problems)
    listing = "\n".join(f"- {problem}" for problem in problems)
    return f"di_scopes.validate() found {count} problem{'s' if count > 1 else ''}:\n{listing}\n"


@explained("No value for a key")
def no_value_message(provider: Any, scope: Any) -> str:
    key = provider.provides
    return (
        f"{describe(provider)}: no active scope holds a value for {key!r} (the active scopes are "
        f"{scope_chain(scope)}, innermost first). The web integrations set di_scopes.REQUEST, "
        f"the Celery integration di_scopes.TASK; set others with `scope.set_value({key!r}, "
        "value)` before the value is resolved."
    )


@explained("The scope is closed or closing")
def closed_value_message(scope: Any, key: object) -> str:
    return (
        f"scope {scope.name!r} is closed or closing: no value can be set in it (key {key!r}). "
        "Set values before or while the scope is active."
    )


def done_future_attribute_error(value: Any, name: str, future: Any) -> AttributeError:
    """What a DoneFuture raises for a name it lacks (both twins)."""
    return AttributeError(
        f"'DoneFuture' object has no attribute {name!r}. A DoneFuture is what an async scoped "
        f"provider hands out for its instance (here a {type(value).__qualname__}): await it "
        "(`session = await container.session()`), or inject it into an `async def` function, "
        "where the injection awaits it.",
        name=name,
        obj=future,
    )


# The public exceptions are di_scopes' names: tracebacks and pickles say di_scopes.ScopeError.
for _public in (ScopeError, ErrorResponse, ClientDisconnected, NonCopyableArgumentError):
    _public.__module__ = "di_scopes"
del _public
