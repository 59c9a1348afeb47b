"""What both twins execute off the per-resolve path: argument checks, string imports, copies,
the scope-name registries, the teardown outcome and its worker threads, running a coroutine
until it first suspends, and the scope decorator (``scoped_function``).
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
from collections.abc import Callable, Coroutine, Generator, Sequence
from contextlib import aclosing
from typing import (
    Any,
    TypeVar,
)

from anyio import CapacityLimiter, to_thread
from anyio.lowlevel import RunVar
from dependency_injector import errors, providers

if sys.version_info >= (3, 11):
    from builtins import BaseExceptionGroup
else:  # pragma: no cover - exercised on 3.10 only
    from exceptiongroup import BaseExceptionGroup

from ._errors import (
    NonCopyableArgumentError,
    ScopeError,
    async_left_message,
    describe,
    exit_open_message,
    public_name,
)

_R = TypeVar("_R")


DEFAULT_SCOPE_NAME = "request"


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


def copy_inner_deeply(provider: Any, inner: Any, memo: Any) -> Any:
    """``providers.deepcopy(inner, memo)``, an error naming ``provider`` if an argument cannot
    be copied (dependency-injector's names the internal provider that holds the arguments)."""
    try:
        return providers.deepcopy(inner, memo)
    except errors.NonCopyableArgumentError as error:
        raise NonCopyableArgumentError(provider, index=error.index, keyword=error.keyword) from error


# Every scope name that an integration, the fast path or a scope decorator opens: validate()
# checks in_scope() names against it. Nothing else reads it.
opened_scope_names: set[str] = set()


def forget_opened_scope_names() -> None:
    """Empty ``opened_scope_names``, for tests of validate() that must not see each other's."""
    opened_scope_names.clear()


def check_scope_name(name: object) -> str:
    """A scope name as a plain ``str``: a ``str`` subclass (a ``StrEnum`` member) gives its value."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"a scope name must be a non-empty string, got {name!r}")
    return name if type(name) is str else str.__str__(name)


def check_exclusive(exclusive: object) -> bool:
    if exclusive is not True and exclusive is not False:
        raise TypeError(f"exclusive must be True or False, got {exclusive!r}")
    return exclusive


def check_exception(exc: object, method: str = "close()") -> None:
    if exc is not None and not isinstance(exc, BaseException):
        raise TypeError(f"{method} takes the exception that ended the scope, or None; got {exc!r}")


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
    errors: Sequence[tuple[Any, BaseException]],
    async_left: Sequence[Any],
) -> None:
    """Make the outcome of a teardown visible.

    A ``KeyboardInterrupt`` or ``SystemExit`` that a teardown raised is raised as itself, with
    everything else noted on it. Otherwise: with no scope exception, raise: a ``ScopeError`` when
    asynchronous resources were left open (the teardown errors as its cause), else every teardown
    error together in one
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
    errors: Sequence[tuple[Any, BaseException]],
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


def start(coro: Coroutine[Any, Any, _R]) -> tuple[bool, Any]:
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


def resume_in_task(coro: Coroutine[Any, Any, _R], yielded: Any) -> asyncio.Task[_R]:
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


# Teardown in worker threads gets threads of its own. Were it to queue for the thread pool that
# runs sync endpoints, endpoints waiting on a row lock would hold every thread while the session
# holding the lock waits for one to commit: a deadlock under load.
TEARDOWN_THREADS = 40


# One limiter per event loop, whichever backend anyio runs on (asyncio or trio).
_teardown_limiter: RunVar[CapacityLimiter] = RunVar("di_scopes.teardown_limiter")


async def in_teardown_thread(function: Callable[..., _R], *args: Any) -> _R:
    """Run ``function(*args)`` in a worker thread reserved for teardown."""
    try:
        limiter = _teardown_limiter.get()
    except LookupError:
        limiter = CapacityLimiter(TEARDOWN_THREADS)
        _teardown_limiter.set(limiter)
    return await to_thread.run_sync(function, *args, limiter=limiter)


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
