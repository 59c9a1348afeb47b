"""What both twins share: the error type, messages, and the cold paths around teardown.

Nothing here runs on the per-resolve path; both ``_scope_py`` and ``_scope_c`` import it.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import importlib
import inspect
import sys
import threading
import traceback
import warnings
from contextlib import aclosing
from typing import Any, Awaitable, Callable, Coroutine, Generator, Iterable, Optional, Sequence, Set, Tuple, TypeVar

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar
from dependency_injector import errors, providers

if sys.version_info >= (3, 11):
    from builtins import BaseExceptionGroup
else:  # pragma: no cover - exercised on 3.10 only
    from exceptiongroup import BaseExceptionGroup

__all__ = ["DEFAULT_SCOPE_NAME", "ClientDisconnected", "ErrorResponse", "ScopeError"]

_R = TypeVar("_R")

DEFAULT_SCOPE_NAME = "request"


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


def _caller_frame() -> Any:
    """The innermost frame outside di-scopes: the code that named ``provides``."""
    frame = sys._getframe(1)
    while frame.f_back is not None and frame.f_globals.get("__name__", "").startswith("di_scopes."):
        frame = frame.f_back
    return frame


def resolve_string_import(provides: Any) -> Any:
    """dependency-injector's string imports: ``"module.name"``, ``".module.name"`` relative to
    the caller's package, ``"name"`` from builtins or the caller's module."""
    if not isinstance(provides, str):
        return provides
    caller = _caller_frame().f_globals
    module_name, _, member = provides.rpartition(".")
    if not module_name:
        if member in dir(builtins):
            return getattr(builtins, member)
        if member not in caller:
            raise AttributeError(f"module {caller.get('__name__')!r} has no attribute {member!r}")
        return caller[member]
    package = caller.get("__package__")
    if module_name.startswith(".") and not package:
        raise ImportError("Attempted relative import with no known parent package")
    return getattr(importlib.import_module(module_name, package=package), member)


def check_provides(provider: Any, provides: Any) -> Any:
    """What a scoped provider is to call: ``provides`` with a string import resolved. A value
    that is not callable, or not of the class's ``provided_type``, is refused here, when the
    provider is built, rather than on the first resolve."""
    provides = resolve_string_import(provides)
    if provides is None:
        return None
    name = public_name(provider)
    if not callable(provides):
        raise errors.Error(
            f"{name}: provides must be a callable that makes the instance (a class, a "
            f"function, a generator function, ...); got {provides!r}"
        )
    provided_type = getattr(type(provider), "provided_type", None)
    if provided_type is not None and not (isinstance(provides, type) and issubclass(provides, provided_type)):
        raise errors.Error(
            f"{name} can provide only {provided_type} instances (its provided_type); got "
            f"{provides!r}. Pass {provided_type.__qualname__} or a subclass of it."
        )
    return provides


def copy_inner(inner: Any) -> Any:
    """A new provider of ``inner``'s type with its provides and injections, for copy.copy of a
    scoped provider (copy.copy of a dependency-injector provider would share their storage)."""
    copied = type(inner)(inner.provides, *inner.args, **inner.kwargs)
    if isinstance(inner, providers.Factory):
        copied.set_attributes(**inner.attributes)
    return copied


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
            "(See \"An argument that cannot be copied\" in di-scopes' troubleshooting guide.)"
        )


def copy_inner_deeply(provider: Any, inner: Any, memo: Any) -> Any:
    """``providers.deepcopy(inner, memo)``, an error naming ``provider`` if an argument cannot
    be copied (dependency-injector's names the internal provider that holds the arguments)."""
    try:
        return providers.deepcopy(inner, memo)
    except errors.NonCopyableArgumentError as error:
        raise NonCopyableArgumentError(provider, index=error.index, keyword=error.keyword) from error


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


# Every scope name a provider has been bound to with in_scope(): an integration skips opening a
# scope of its own that no provider could live in.
bound_scope_names: Set[str] = set()


def bind_scope_name(name: object) -> str:
    checked = check_scope_name(name)
    bound_scope_names.add(checked)
    return checked


def check_scope_name(name: object) -> str:
    """A scope name as a plain ``str``: a ``str`` subclass (a ``StrEnum`` member) gives its value."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"a scope name must be a non-empty string, got {name!r}")
    return name if type(name) is str else str.__str__(name)


def check_exclusive(exclusive: object) -> bool:
    if exclusive is not True and exclusive is not False:
        raise TypeError(f"exclusive must be True or False, got {exclusive!r}")
    return exclusive


def check_failure_status(failure_status: object) -> None:
    if failure_status is not None and not (
        isinstance(failure_status, int) and not isinstance(failure_status, bool) and 100 <= failure_status <= 599
    ):
        raise ValueError(f"failure_status must be an HTTP status (100-599) or None, got {failure_status!r}")


class ScopeMiddlewareBase:
    """Settings that the ASGI and WSGI middlewares share; see their documentation."""

    def __init__(self, app: Any, *, name: str = DEFAULT_SCOPE_NAME, failure_status: Optional[int] = 400) -> None:
        check_failure_status(failure_status)
        self.app = app
        self.failure_status = failure_status
        self.name, self._scope = integration_scope(name)  # the twin in use when the application is built


def check_exception(exc: object, method: str = "close()") -> None:
    if exc is not None and not isinstance(exc, BaseException):
        raise TypeError(
            f"{method} takes the exception that ended the scope, or None; got {exc!r}"
        )


# Messages -----------------------------------------------------------------------------------

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


@explained("A scope left open")
def exit_open_message(scope_name: str, providers: Iterable[Any]) -> str:
    names = ", ".join(describe(p) for p in providers)
    return (
        f"scope {scope_name!r} was still open at interpreter exit, with live resources: {names}. "
        "Close scopes with `with`/`async with` or scope.close()/await scope.aclose()."
    )


def warn_open_at_exit(current_scope: Any) -> None:
    """At interpreter exit (an ``atexit`` function of each twin): warn of the scopes still open
    in the main thread's context, while warnings still work; once the interpreter is finalizing,
    a scope collected then says nothing."""
    scope = current_scope.get()
    while scope is not None:
        live = scope._live_resources()
        if live:
            warnings.warn(exit_open_message(scope.name, live), ResourceWarning, stacklevel=1)
        scope = scope.parent


@explained("A scope left open")
def gc_open_message(scope_name: str, providers: Iterable[Any]) -> str:
    names = ", ".join(describe(p) for p in providers)
    return (
        f"scope {scope_name!r} was garbage-collected while open, with live resources: {names}. "
        "Close scopes with `with`/`async with` or scope.close()/await scope.aclose()."
    )


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


# Teardown outcome ---------------------------------------------------------------------------


def add_note(exc: BaseException, note: str) -> None:
    if sys.version_info >= (3, 11):
        exc.add_note(note)
    else:  # the exceptiongroup backport prints __notes__ on 3.10
        notes = getattr(exc, "__notes__", None)
        if notes is None:
            exc.__notes__ = notes = []  # type: ignore[attr-defined]
        notes.append(note)


def report_teardown(
    scope: Any,
    exc: BaseException | None,
    errors: Sequence[Tuple[Any, BaseException]],
    async_left: Sequence[Any],
) -> None:
    """Make the outcome of a teardown visible.

    A ``KeyboardInterrupt`` or ``SystemExit`` that a teardown raised is raised as itself, with
    everything else noted on it. Otherwise: with no scope exception, raise: a ``ScopeError`` when asynchronous resources were left open
    (the teardown errors as its cause), else every teardown error together in one
    ``BaseExceptionGroup``. With a scope exception, which the caller propagates, attach the
    teardown errors to it as notes and return.
    """
    for provider, error in errors:
        add_note(error, f"raised while tearing down {describe(provider)} at the end of scope {scope.name!r}")
    interrupt = next((error for _, error in errors if isinstance(error, _INTERRUPTS)), None)
    if interrupt is not None:
        _raise_interrupt(interrupt, scope, exc, errors, async_left)
    if exc is None:
        group = None
        if errors:
            count = len(errors)
            group = BaseExceptionGroup(
                f"{count} error{'s' if count > 1 else ''} while tearing down scope {scope.name!r}",
                [error for _, error in errors],
            )
        try:
            if async_left:
                raise ScopeError(async_left_message(scope, async_left)) from group
            if group is not None:
                raise group
        finally:
            del group, errors  # no frame -> traceback -> frame cycle
        return
    for provider, error in errors:
        details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        add_note(exc, f"tearing down {describe(provider)} also raised:\n{details.rstrip()}")
    if async_left:
        add_note(exc, async_left_message(scope, async_left))


# What a teardown may raise that must reach the program as itself, after every teardown has run
# (as contextlib.ExitStack and asyncio.TaskGroup let them through): Ctrl-C and sys.exit().
_INTERRUPTS = (KeyboardInterrupt, SystemExit)


def _raise_interrupt(
    interrupt: BaseException,
    scope: Any,
    exc: BaseException | None,
    errors: Sequence[Tuple[Any, BaseException]],
    async_left: Sequence[Any],
) -> None:
    """Raise ``interrupt``, the first ``KeyboardInterrupt`` or ``SystemExit`` a teardown raised,
    with what else happened as notes on it: the scope's exception and the other teardown errors."""
    if exc is not None and exc is not interrupt:
        details = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        add_note(interrupt, f"scope {scope.name!r} was ending with:\n{details.rstrip()}")
    for provider, error in errors:
        if error is not interrupt:
            details = "".join(traceback.format_exception(type(error), error, error.__traceback__))
            add_note(interrupt, f"tearing down {describe(provider)} also raised:\n{details.rstrip()}")
    if async_left:
        add_note(interrupt, async_left_message(scope, async_left))
    try:
        raise interrupt
    finally:
        del interrupt, errors  # no frame -> traceback -> frame cycle


def start(coro: Coroutine[Any, Any, _R]) -> Tuple[bool, Any]:
    """Run ``coro`` now, in the caller's task, until it first suspends.

    Returns ``(True, result)`` when it finished without suspending, else ``(False, yielded)``,
    to be handed to ``resume_in_task``. Scope work rarely suspends (an async generator's setup
    and teardown often need no I/O): running it eagerly spares a task and the event-loop turns
    that waiting for one costs.
    """
    try:
        yielded = coro.send(None)
    except StopIteration as stop:
        return True, stop.value
    return False, yielded


def resume_in_task(coro: Coroutine[Any, Any, _R], yielded: Any) -> "asyncio.Task[_R]":
    """Finish in a task of its own a coroutine that ``start`` left suspended on ``yielded``."""
    return asyncio.get_running_loop().create_task(_resumed(coro, yielded))


async def _resumed(coro: Coroutine[Any, Any, _R], yielded: Any) -> _R:
    return await _Resumption(coro, yielded)  # type: ignore[no-any-return]


class _Resumption:
    """Awaitable that hands ``coro``'s suspensions, starting with ``yielded``, to the task."""

    __slots__ = ("coro", "yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self.coro = coro
        self.yielded = yielded

    def __await__(self) -> Generator[Any, Any, Any]:
        coro, yielded = self.coro, self.yielded
        while True:
            try:
                sent = yield yielded
            except BaseException as error:  # thrown in by the task: pass it on
                try:
                    yielded = coro.throw(error)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                yielded = coro.send(sent)
            except StopIteration as stop:
                return stop.value


async def shielded(coro: Coroutine[Any, Any, _R]) -> Tuple[_R, BaseException | None]:
    """Run ``coro`` to completion, however often the caller is cancelled meanwhile.

    Returns its result and the caller's cancellation, if one arrived, for the caller to raise
    once it has finished its own work. ``coro`` runs in the caller's task (see ``_Shielding``).
    """
    finished, value = start(coro)
    if finished:
        return value, None
    return await _Shielding(coro, value)


class _Shielding:
    """Awaitable that finishes ``coro`` (suspended on ``yielded``) in the awaiting task, shielded.

    The task waits on what ``coro`` waits on, through an ``_Uncancellable`` view of each future,
    so ``Task.cancel()`` cannot cancel the future under ``coro`` (it only marks the task, which
    throws ``CancelledError`` in once the future is done). That error is kept and ``coro`` goes
    on; its result comes back with the kept cancellation. No task of its own: spawning one and
    waiting on it through ``asyncio.shield`` costs three more event-loop turns.
    """

    __slots__ = ("coro", "yielded")

    def __init__(self, coro: Coroutine[Any, Any, Any], yielded: Any) -> None:
        self.coro = coro
        self.yielded = yielded

    def __await__(self) -> Generator[Any, Any, Tuple[Any, Optional[BaseException]]]:
        coro, yielded = self.coro, self.yielded
        cancelled: Optional[BaseException] = None
        while True:
            blocking = getattr(yielded, "_asyncio_future_blocking", None)
            try:
                sent = yield (_Uncancellable(yielded) if blocking else yielded)
            except asyncio.CancelledError as error:
                # The task's cancellation, unless the future itself was cancelled: then it is
                # coro's to handle, as it would be unshielded.
                if not (blocking and yielded.cancelled()):
                    cancelled = error
                    sent = None  # coro reads the future's outcome itself, as after a wakeup
                else:
                    try:
                        yielded = coro.throw(error)
                    except StopIteration as stop:
                        return stop.value, cancelled
                    continue
            except BaseException as error:  # thrown in by the task: pass it on
                try:
                    yielded = coro.throw(error)
                except StopIteration as stop:
                    return stop.value, cancelled
                continue
            try:
                yielded = coro.send(sent)
            except StopIteration as stop:
                return stop.value, cancelled


class _Uncancellable:
    """A future as the awaiting task sees it, except that the task's ``cancel()`` does not
    reach it. asyncio's tasks accept any future-like object (``asyncio.isfuture``)."""

    __slots__ = ("_future", "_asyncio_future_blocking")

    def __init__(self, future: Any) -> None:
        self._future = future
        self._asyncio_future_blocking = True

    def get_loop(self) -> asyncio.AbstractEventLoop:
        return self._future.get_loop()  # type: ignore[no-any-return]

    def add_done_callback(self, fn: Callable[[Any], object], *, context: Any = None) -> None:
        self._future.add_done_callback(fn, context=context)

    def remove_done_callback(self, fn: Callable[[Any], object]) -> int:
        return self._future.remove_done_callback(fn)  # type: ignore[no-any-return]

    def done(self) -> bool:
        return self._future.done()  # type: ignore[no-any-return]

    def cancel(self, msg: Any = None) -> bool:
        return False  # the task then throws CancelledError in once the future is done

    def __repr__(self) -> str:
        return f"<shielded {self._future!r}>"


# Teardown in worker threads gets threads of its own. Were it to queue for the thread pool that
# runs sync endpoints, endpoints waiting on a row lock would hold every thread while the session
# holding the lock waits for one to commit: a deadlock under load.
TEARDOWN_THREADS = 40
# One limiter per event loop, whichever backend anyio runs on (asyncio or trio).
_teardown_limiter: "RunVar[CapacityLimiter]" = RunVar("di_scopes.teardown_limiter")


async def in_teardown_thread(function: Callable[..., _R], *args: Any) -> _R:
    """Run ``function(*args)`` in a worker thread reserved for teardown."""
    try:
        limiter = _teardown_limiter.get()
    except LookupError:
        limiter = CapacityLimiter(TEARDOWN_THREADS)
        _teardown_limiter.set(limiter)
    return await to_thread.run_sync(function, *args, limiter=limiter)


class Ready:
    """An awaitable that is already finished with ``value``: awaiting it never suspends.

    What ``Scope.__aenter__`` returns, and ``__aexit__``, ``aclose()`` or a no-op ``shutdown()``
    when nothing was left to await (the compiled twin has a C type of its own for it).
    """

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __await__(self) -> Generator[Any, None, Any]:
        return self.value
        yield  # a generator function: awaiting it returns at once


DONE = Ready(None)


class DoneFuture:
    """What an async scoped provider hands out for its instance: a future that is already
    finished with it.

    Awaiting it never suspends, and ``asyncio.isfuture()`` accepts it, so dependency-injector's
    ``Factory`` gathers it as it gathers a future. It has the finished-future half of
    ``asyncio.Future``'s interface, and behaves as a finished ``asyncio.Future`` of the loop that
    ran when it was made: ``done()``, ``result()``, ``exception()``, ``cancelled()``,
    ``cancel()``, ``add_done_callback()`` (scheduled on that loop), ``remove_done_callback()``
    and ``get_loop()``; so ``loop.run_until_complete()``, ``asyncio.gather()`` and
    ``asyncio.ensure_future()`` take it outside a running loop too. The compiled twin has a C
    type of its own for it. Only scoped providers make them.
    """

    __slots__ = ("_value", "_loop")
    _value: Any
    _loop: asyncio.AbstractEventLoop
    _asyncio_future_blocking = False  # what asyncio.isfuture() looks for

    def __new__(cls, *args: Any, **kwargs: Any) -> "DoneFuture":
        raise TypeError("cannot create 'DoneFuture' instances: scoped providers make them")

    def __await__(self) -> Generator[Any, None, Any]:
        return self._value
        yield  # a generator function: awaiting it returns at once

    __iter__ = __await__

    def done(self) -> bool:
        """True: the future is finished."""
        return True

    def cancelled(self) -> bool:
        """False: it finished with a result."""
        return False

    def result(self) -> Any:
        """The instance."""
        return self._value

    def exception(self) -> None:
        """None: it finished with a result."""
        return None

    def cancel(self, msg: Any = None) -> bool:
        """False: a finished future cannot be cancelled."""
        return False

    def get_loop(self) -> asyncio.AbstractEventLoop:
        """The event loop that ran when it was made."""
        return self._loop

    def add_done_callback(self, fn: Callable[[Any], Any], /, *, context: Any = None) -> None:
        """Schedule ``fn(future)`` on its loop, as a finished ``asyncio.Future`` does."""
        if context is None:
            self._loop.call_soon(fn, self)
        else:
            self._loop.call_soon(fn, self, context=context)

    def remove_done_callback(self, fn: Callable[[Any], Any], /) -> int:
        """0: callbacks are scheduled at once, not kept."""
        return 0

    def __repr__(self) -> str:
        return f"<DoneFuture finished result={self._value!r}>"

    def __getattr__(self, name: str) -> Any:
        # Only for a name the class lacks: most often an `await` forgotten before a resolve.
        raise done_future_attribute_error(self._value, name, self)


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


# What a pending creation's event becomes once the creation has ended, under the same lock as
# the waiters register theirs: a thread that comes to wait after the end finds it already set.
CREATION_ENDED = threading.Event()
CREATION_ENDED.set()


def scoped_function(make_scope: Callable[[], Any], func: Callable[..., Any]) -> Any:
    """Wrap ``func`` so that each call runs in a fresh scope made by ``make_scope()``.

    The wrapper keeps what ``functools.wraps`` keeps (``__wrapped__`` included) and ``func``'s
    signature, for the tools that read parameters (typer, click, FastAPI, FastStream, taskiq).
    ``func``'s ``Provide[...]`` markers are resolved inside the scope, by dependency-injector's
    own ``@inject`` (applied here when ``func`` lacks it), and the injected parameters are left
    out of the signature: callers do not pass them, and a dependency-injector ``@inject`` put
    above the scope decorator finds nothing to do (it warns that it is not required) rather than
    resolving them before the scope opens. A generator (sync or async) runs each of its steps in
    a context of its own where its scope is entered, and ends its scope when it ends.
    """
    if not callable(func):
        raise TypeError(f"a scope decorates a function; got {func!r}")
    from ._steps import Steps
    from ._wiring import inject_inside, visible_signature

    patched, record = inject_inside(func, "di_scopes.scope", _SCOPE_INSTEAD)
    target = func if patched is None else patched
    hidden = set() if record is None else set(record.reference_injections)
    _note_decorated(make_scope)
    wrapper: Any
    if inspect.iscoroutinefunction(func):

        async def run_in_async_scope(*args: Any, **kwargs: Any) -> Any:
            async with make_scope():
                return await target(*args, **kwargs)

        wrapper = run_in_async_scope
    elif inspect.isasyncgenfunction(func):

        async def run_steps_in_async_scope(*args: Any, **kwargs: Any) -> Any:
            steps = Steps(make_scope())
            async with aclosing(steps.aiterate(lambda: target(*args, **kwargs), None)) as items:
                async for item in items:
                    yield item

        wrapper = run_steps_in_async_scope
    elif inspect.isgeneratorfunction(func):

        def run_steps_in_scope(*args: Any, **kwargs: Any) -> Any:
            steps = Steps(make_scope())
            try:
                steps.generator = steps.context.run(target, *args, **kwargs)
            except BaseException as error:
                steps.finish_sync(error)
                raise
            return (yield from steps.iterate(None))

        wrapper = run_steps_in_scope
    else:

        def run_in_scope(*args: Any, **kwargs: Any) -> Any:
            with make_scope():
                return target(*args, **kwargs)

        wrapper = run_in_scope
    functools.update_wrapper(wrapper, func)
    wrapper.__signature__ = visible_signature(func, hidden)
    if hidden:
        annotations = getattr(func, "__annotations__", {})
        wrapper.__annotations__ = {k: v for k, v in annotations.items() if k not in hidden}
    return wrapper


_SCOPE_INSTEAD = (
    "Put dependency_injector.wiring.inject under the scope decorator meanwhile (it then resolves "
    "the markers inside the scope), or use a di-scopes release that supports it."
)


def _note_decorated(make_scope: Callable[[], Any]) -> None:
    """Record the name of the scope a decorated function opens, for validate()."""
    owner = getattr(make_scope, "__self__", None)  # Scope._fresh, or the Scope class itself
    opened_scope_names.add(getattr(owner, "name", DEFAULT_SCOPE_NAME))


# The integrations' shared core ---------------------------------------------------------------
# Every integration (ASGI, WSGI, Flask, Django, aiohttp, Celery, the pytest plugin) opens and
# ends its scopes through these functions, so the failure policy is the same everywhere.

REQUEST = "request"  # the key under which the web integrations store their request object
TASK = "task"  # the key under which the Celery integration stores the running task
APP = "app"  # the key under which an application's scope holds the application (ASGI: its lifespan scope)

# Every scope name an integration opens; validate() checks in_scope() names against it.
opened_scope_names: Set[str] = set()


def integration_scope(name: object) -> Tuple[str, Callable[..., Any]]:
    """Check ``name``, record it as opened, and return it with the scope factory of the twin in
    use now (the twin selected when the application is built)."""
    checked = check_scope_name(name)
    opened_scope_names.add(checked)
    import di_scopes

    return checked, di_scopes._twin.scope


_NO_KEY = object()


def enter_scope(make_scope: Callable[..., Any], name: str, key: Any = _NO_KEY, value: Any = None) -> Any:
    """Make a scope named ``name``, put ``value`` into it under ``key`` (see ``Scope.set_value``),
    and enter it."""
    entered = make_scope(name)
    if key is not _NO_KEY:
        entered.set_value(key, value)
    entered.__enter__()
    return entered


_NOTED = object()  # the scope-value key under which note_error() keeps the request's exception
_noting = False  # whether note_error() was ever called: the ends look for a noted error only then


def note_error(error: BaseException, scope: Any = None) -> None:
    """Note ``error`` as what ended the request of ``scope`` (by default the current scope), for
    frameworks that turn an exception into a response before an integration's hook sees it: the
    scope then ends with it thrown in, whatever the response's status."""
    global _noting
    if not isinstance(error, BaseException):
        raise TypeError(f"note_error() takes the exception that ended the request; got {error!r}")
    if scope is None:
        import di_scopes

        scope = di_scopes._twin.current_scope()
        if scope is None:
            raise ScopeError(no_current_scope_message())
    scope.set_value(_NOTED, error)
    _noting = True


def _noted(entered: Any, error: Optional[BaseException]) -> Optional[BaseException]:
    if error is None and _noting:
        noted: Optional[BaseException] = entered.get_value(_NOTED)
        return noted
    return error


def ending(error: Optional[BaseException], status: Optional[int], failure_status: Optional[int]) -> Optional[BaseException]:
    """The failure policy: what a scope ends with.

    The exception that ended the unit of work, if any; else ``ErrorResponse(status)`` when the
    response status is at or above ``failure_status``; else None (success).
    """
    if error is not None:
        return error
    if failure_status is None or status is None or status < failure_status:
        return None
    return ErrorResponse(status)


def _note_count(exc: BaseException) -> int:
    return len(getattr(exc, "__notes__", ()))


def end_scope(
    entered: Any,
    error: Optional[BaseException] = None,
    status: Optional[int] = None,
    failure_status: Optional[int] = None,
    *,
    raises: bool = False,
) -> None:
    """End ``entered`` (synchronously) by the failure policy of ``ending()``.

    Teardown errors are attached to the ending exception as notes. ``ErrorResponse`` carrying
    such notes is raised, so the server logs them; so is ``error`` when ``raises`` is true (the
    framework handled ``error`` and will not raise it itself). Without an ending exception, a
    teardown error propagates (a failed commit is never silent).
    """
    error = _noted(entered, error)
    exc = ending(error, status, failure_status)
    if exc is None:
        entered.__exit__(None, None, None)
        return
    notes = _note_count(exc)
    entered.__exit__(type(exc), exc, exc.__traceback__)
    if (raises or exc is not error) and _note_count(exc) > notes:
        raise exc


def aend_scope(
    entered: Any,
    error: Optional[BaseException] = None,
    status: Optional[int] = None,
    failure_status: Optional[int] = None,
    *,
    raises: bool = False,
) -> Awaitable[None]:
    """``end_scope`` for asynchronous scopes: await the result. Not a coroutine on success, so a
    scope with nothing to await costs no coroutine."""
    if _noting:
        error = _noted(entered, error)
    if error is None and (failure_status is None or status is None or status < failure_status):
        return entered.__aexit__(None, None, None)  # type: ignore[no-any-return]  # ending() inlined
    exc = ending(error, status, failure_status)
    return _aend_failed(entered, exc, raises or exc is not error)  # type: ignore[arg-type]


async def _aend_failed(entered: Any, exc: BaseException, raises: bool) -> None:
    notes = _note_count(exc)
    await entered.__aexit__(type(exc), exc, exc.__traceback__)
    if raises and _note_count(exc) > notes:
        raise exc
