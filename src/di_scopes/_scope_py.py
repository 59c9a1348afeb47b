"""Scopes and scoped providers in pure Python: the twin of ``_scope_c.pyx``, and its typing source.

A scope is one mutable object stored in one ContextVar when it is entered. Every resolve inside
it, from any thread or task that runs in a copy of that context, finds the same object and its
instance table; resolving never calls ``ContextVar.set``. A scope records what it created in
creation order and tears it down in reverse when it ends, with the ending exception thrown in.
"""

from __future__ import annotations

import asyncio
import atexit
import sys
import threading
import warnings
from asyncio import Future
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Generator, Iterator
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from contextvars import ContextVar
from functools import partial
from inspect import isawaitable
from threading import get_ident
from types import AsyncGeneratorType, GeneratorType, TracebackType
from typing import (
    TYPE_CHECKING,
    Any,
    TypeVar,
    overload,
)

from dependency_injector import errors as di_errors
from dependency_injector import providers, wiring

from ._errors import (
    ScopeError,
    circular_message,
    closed_during_creation_message,
    closed_scope_message,
    closed_value_message,
    copied_scope_message,
    copy_initialized_message,
    crossed_cycle_message,
    didnt_stop_message,
    didnt_yield_message,
    done_future_attribute_error,
    exited_out_of_order_message,
    exited_twice_message,
    gc_open_message,
    no_loop_message,
    no_provides_message,
    no_scope_message,
    no_value_message,
    not_entered_message,
    only_exclusive_message,
    reentered_message,
    represent,
    thread_cycle_message,
    unknown_scope_message,
    value_outside_scope_message,
)
from ._shared import (
    CREATION_ENDED,
    DEFAULT_SCOPE_NAME,
    check_exception,
    check_exclusive,
    check_provides,
    check_scope_name,
    copy_inner,
    copy_inner_deeply,
    in_teardown_thread,
    report_teardown,
    resume_in_task,
    scoped_function,
    start,
    warn_open_at_exit,
)

__all__ = [
    "ContextLocalResource",
    "ContextLocalSingleton",
    "DoneFuture",
    "Scope",
    "ScopeError",
    "ScopeValue",
    "await_pending",
    "call_in_scope",
    "current_scope",
    "inject_into",
    "inject_sync",
    "provide_graph",
    "scope",
]

_T = TypeVar("_T")
_R = TypeVar("_R")
if TYPE_CHECKING:  # a default for the value ScopeValue(key) gives, where no type is named
    from typing_extensions import TypeVar as _DefaultingTypeVar

    _V = _DefaultingTypeVar("_V", default=Any)
else:
    _V = TypeVar("_V")
_F = TypeVar("_F", bound=Callable[..., Any])
_P = TypeVar("_P", bound="_ScopedProvider[Any]")

# Scope states.
_NEW, _ACTIVE, _CLOSING, _CLOSED = 0, 1, 2, 3
_STATE_NAMES = ("new", "active", "closing", "closed")

# Teardown kinds; the async ones sort last.
_GEN, _CM, _AGEN, _ACM = 0, 1, 2, 3
_AWAIT = -1  # not a teardown kind: the object must be awaited before it is known

# A teardown record: (kind, object, provider, id of the thread that created it).
_Teardown = tuple[int, Any, "_ScopedProvider[Any]", int]

_current_scope: ContextVar[Scope | None] = ContextVar("di_scopes.current_scope", default=None)
atexit.register(warn_open_at_exit, _current_scope)

# The creations in progress in this context, innermost first, as nested 1-tuples (outer,): each
# tuple is the mark of one creation (_Pending.creation). A thread started in a copy of the context
# during a creation inherits them: if it resolves one of them, it waits for a creation that may be
# waiting for it. The marks hold nothing else, so a long-lived thread keeps no instance alive.
_creating: ContextVar[tuple[Any] | None] = ContextVar("di_scopes.creating", default=None)

# Guards the instance tables and teardown lists of all scopes. Held only around dict and list
# updates, never while user code runs.
_lock = threading.Lock()
_get_running_loop = asyncio.get_running_loop
_new_object = object.__new__


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

    def __new__(cls, *args: Any, **kwargs: Any) -> DoneFuture:
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


class _Pending:
    """An entry of a scope's instance table whose creation is in progress."""

    __slots__ = ("owner", "event", "task", "creation", "done", "ending", "discarded")

    def __init__(self, owner: int | None) -> None:
        self.owner = owner  # thread creating it, to tell a cycle from a race
        self.event: threading.Event | None = None  # made by the first thread that waits
        self.task: asyncio.Task[Any] | None = None  # set when the creation is asynchronous
        self.creation: tuple[Any] | None = None  # its mark in _creating
        self.done: DoneFuture | None = None  # an async creation's result, once stored
        # Found pending when the scope began closing: the exception it closed with.
        self.ending: BaseException | None = None
        self.discarded = False  # finished after the scope began closing, and was torn down


# What each blocked thread waits for (thread id -> pending entry), under _lock: a thread that would
# wait, through these, for itself reports the cycle instead.
_waiting: dict[int, _Pending] = {}


def _waits_for(pending: _Pending, me: int) -> bool:
    """Whether the creator of ``pending`` waits, directly or through other waiters, for ``me``."""
    owner = pending.owner
    for _ in range(len(_waiting)):
        blocked = _waiting.get(owner)  # type: ignore[arg-type]
        if blocked is None:
            return False
        owner = blocked.owner
        if owner == me:
            return True
    return False


# Looked up like a pending entry, so one type test covers "absent" and "not ready".
_MISSING = _Pending(None)


class Scope:
    """A unit of work that owns one instance of each scoped provider resolved inside it.

    Enter it with ``with`` or ``async with`` (it nests in the current scope), or decorate a
    function with it: each call then runs in a fresh scope of the same name. When it ends, what
    it created is torn down in reverse creation order, with the ending exception thrown in.
    A scope is entered and exited once, innermost first; it cannot be copied, pickled or
    subclassed.
    """

    __slots__ = ("_state", "_name", "_exclusive", "_parent", "_instances", "_teardowns", "_token", "_values")

    def __init__(self, name: str = DEFAULT_SCOPE_NAME, *, exclusive: bool = False) -> None:
        self._state = _NEW
        self._name = check_scope_name(name)
        self._exclusive = check_exclusive(exclusive)
        self._parent: Scope | None = None
        self._instances: dict[Any, Any] | None = None  # provider -> instance | _Pending
        self._teardowns: list[_Teardown] | None = None  # in creation order
        self._token: Any = None
        self._values: dict[Any, Any] | None = None  # set_value(): key -> value

    @property
    def name(self) -> str:
        """The scope's name; providers bound with ``.in_scope(name)`` resolve in it."""
        return self._name

    @property
    def exclusive(self) -> bool:
        """Whether only providers bound to this name with ``in_scope()`` live here; the others
        resolve in the enclosing scope."""
        return self._exclusive

    @property
    def parent(self) -> Scope | None:
        """The scope that was current when this one was entered, or None."""
        return self._parent

    @property
    def closed(self) -> bool:
        """True once teardown has begun: nothing new can be created in the scope."""
        return self._state >= _CLOSING

    def __repr__(self) -> str:
        return f"<Scope {self._name!r} {_STATE_NAMES[self._state]}>"

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # The compiled twin's Scope is final: neither twin's can be subclassed.
        raise TypeError(f"type '{Scope.__module__}.Scope' is not an acceptable base type")

    def __copy__(self) -> Scope:
        raise TypeError(copied_scope_message(self))

    def __deepcopy__(self, memo: Any) -> Scope:
        raise TypeError(copied_scope_message(self))

    def __reduce_ex__(self, protocol: Any) -> Any:
        raise TypeError(copied_scope_message(self))

    # Entering and leaving -------------------------------------------------------------------

    def _activate(self) -> None:
        if self._state != _NEW:
            raise ScopeError(reentered_message(self))
        self._parent = _current_scope.get()
        self._token = _current_scope.set(self)
        self._state = _ACTIVE

    def _deactivate(self) -> None:
        token, self._token = self._token, None
        try:
            _current_scope.reset(token)
        except ValueError:  # left in another context than the one it was entered in
            if _current_scope.get() is self:
                _current_scope.set(self._parent)

    def _check_exit(self, exc: BaseException | None, method: str) -> list[Scope] | None:
        """Refuse an exit that cannot be right; return the scopes still open inside this one
        (innermost first) when it is exited before them, else None."""
        check_exception(exc, method)
        if self._token is None:
            raise ScopeError(not_entered_message(self) if self._state == _NEW else exited_twice_message(self))
        current = _current_scope.get()
        if current is self:
            return None
        inner = []
        while current is not None and current is not self:
            inner.append(current)
            current = current._parent
        return inner if current is self else None  # else: left in another context

    def _exit_out_of_order(self, inner: list[Scope]) -> ScopeError:
        """Close the scopes left open inside this one; return the error to raise."""
        error = ScopeError(exited_out_of_order_message(self, inner))
        for scope in inner:
            scope._token = None  # its own exit, if it comes, is a second one
            scope.close(error)
        return error

    def __enter__(self) -> Scope:
        self._activate()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        inner = self._check_exit(exc, "__exit__()")
        if inner is not None:
            error = self._exit_out_of_order(inner)
            try:
                self.close(error)
            finally:
                self._deactivate()
            raise error
        try:
            self.close(exc)
        finally:
            self._deactivate()

    def __aenter__(self) -> Awaitable[Scope]:
        # Not a coroutine: entering never suspends.
        self._activate()
        return Ready(self)

    def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Awaitable[None]:
        # Not a coroutine: a teardown that does not suspend is done before this returns.
        inner = self._check_exit(exc, "__aexit__()")
        if inner is not None:
            return self._aexit_out_of_order(inner)
        teardowns = self._begin_close(exc)
        if teardowns is not None and _needs_await(teardowns):
            # The coroutine runs in the caller's task until it suspends (_teardown_awaiting), as
            # the compiled twin's _teardown_eagerly does before it returns.
            return self._aexit_awaiting(teardowns, exc)
        try:
            if teardowns is not None:
                self._teardown(teardowns, exc)
        finally:
            self._deactivate()
        return DONE

    async def _aexit_awaiting(self, teardowns: list[_Teardown], exc: BaseException | None) -> None:
        try:
            await self._teardown_awaiting(teardowns, exc)
        finally:
            self._deactivate()

    async def _aexit_out_of_order(self, inner: list[Scope]) -> None:
        error = ScopeError(exited_out_of_order_message(self, inner))
        for scope in inner:
            scope._token = None  # its own exit, if it comes, is a second one
            await scope.aclose(error)
        try:
            await self.aclose(error)
        finally:
            self._deactivate()
        raise error

    def __call__(self, func: _F) -> _F:
        """Decorate a sync or async function: each call runs in a fresh scope of this name."""
        return scoped_function(self._fresh, func)  # type: ignore[no-any-return]

    def _fresh(self) -> Scope:
        """A new scope with this one's name and exclusivity."""
        return Scope(self._name, exclusive=self._exclusive)

    # Values ---------------------------------------------------------------------------------

    def set_value(self, key: Any, value: Any) -> None:
        """Put ``value`` into the scope under ``key``; ``ScopeValue(key)`` injects it.

        Nested scopes see the values of the scopes around them; a nested scope's own value for a
        key hides the outer one. Set values before entering the scope or while it is active.
        """
        if self._state >= _CLOSING:
            raise ScopeError(closed_value_message(self, key))
        if self._values is None:
            self._values = {}
        self._values[key] = value

    def get_value(self, key: Any, default: Any = None) -> Any:
        """The value set under ``key`` in this scope or the nearest enclosing one, else ``default``."""
        value = _find_value(self, key)
        return default if value is _MISSING else value

    # Creating -------------------------------------------------------------------------------

    def _get_or_create(self, provider: _ScopedProvider[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        me = get_ident()
        creating = _creating.get()
        while True:
            with _lock:
                if self._state != _ACTIVE:
                    raise ScopeError(closed_scope_message(provider, self))
                instances = self._instances
                if instances is None:
                    instances = self._instances = {}
                value = instances.get(provider, _MISSING)
                if value is _MISSING:
                    pending = instances[provider] = _Pending(me)
                    break
                if type(value) is not _Pending:
                    return value
                if value.task is not None:  # an asynchronous creation in flight
                    return asyncio.shield(value.task)
                if value.owner == me:
                    raise ScopeError(circular_message(provider))
                if _is_creating(creating, value):
                    raise ScopeError(thread_cycle_message(provider))
                if _waits_for(value, me):
                    raise ScopeError(crossed_cycle_message(provider))
                # Made under the lock that _store and _forget take before they look for it: the
                # creation cannot end between this check and the wait without waking the waiter.
                event = value.event
                if event is None:
                    event = value.event = threading.Event()
                _waiting[me] = value
            try:
                event.wait()
            finally:
                with _lock:
                    del _waiting[me]

        pending.creation = mark = (creating,)
        token = _creating.set(mark)
        try:
            obj = provider._instantiate(args, kwargs)
            kind, value = _enter(provider, obj)
        except BaseException:
            self._forget(provider, pending)
            raise
        finally:
            _creating.reset(token)
        if kind == _AWAIT:
            return self._start_async(provider, obj, pending)
        teardown = None if kind is None else (kind, obj, provider, me)
        if not self._store(provider, pending, value, teardown):
            error = ScopeError(closed_during_creation_message(provider, self))
            if teardown is not None:
                # Not part of the scope's work: rolled back, with what ended the scope.
                failure = _exit_sync(kind, obj, error if pending.ending is None else pending.ending, provider)  # type: ignore[arg-type]
                if failure is not None:
                    raise failure
            raise error
        return value

    def _store(self, provider: Any, pending: _Pending, value: Any, teardown: _Teardown | None) -> bool:
        """Publish a created instance; False when the scope began closing meanwhile."""
        with _lock:
            instances = self._instances
            stored = self._state == _ACTIVE
            if stored:
                instances[provider] = value  # type: ignore[index]
                if teardown is not None:
                    if self._teardowns is None:
                        self._teardowns = [teardown]
                    else:
                        self._teardowns.append(teardown)
            elif instances is not None and instances.get(provider) is pending:
                del instances[provider]
            event, pending.event = pending.event, CREATION_ENDED
        if event is not None:
            event.set()
        return stored

    def _forget(self, provider: Any, pending: _Pending) -> None:
        """Withdraw a failed creation, so that waiters and later resolves try again."""
        with _lock:
            instances = self._instances
            if instances is not None and instances.get(provider) is pending:
                del instances[provider]
            event, pending.event = pending.event, CREATION_ENDED
        if event is not None:
            event.set()

    def _start_async(self, provider: Any, obj: Any, pending: _Pending) -> Any:
        try:
            _get_running_loop()  # none is needed yet, unless it suspends: fail early and alike
        except RuntimeError:
            self._forget(provider, pending)
            close = getattr(obj, "close", None)  # an un-awaited coroutine would warn
            if close is not None:
                close()
            raise ScopeError(no_loop_message(provider)) from None
        creation = self._finish_async(provider, obj, pending)
        finished, value = start(creation)
        if finished:
            return pending.done  # the DoneFuture it was stored as
        # It suspended: it goes on in a task, and every awaiter gets its own shield, so one
        # awaiter's cancellation cannot cancel the creation that the others share.
        pending.task = task = resume_in_task(creation, value)
        task.add_done_callback(partial(_retrieve_discarded, pending))
        return asyncio.shield(task)

    async def _finish_async(self, provider: Any, obj: Any, pending: _Pending) -> Any:
        """Finish creating ``obj``; publish it as a DoneFuture (also kept as ``pending.done``)."""
        kind: int | None = _AWAIT
        value = obj
        try:
            while kind == _AWAIT:
                if type(obj) is AsyncGeneratorType:
                    kind = _AGEN
                    try:
                        value = await obj.__anext__()
                    except StopAsyncIteration:
                        raise RuntimeError(didnt_yield_message(provider)) from None
                elif provider._tears_down and _is_async_cm(type(obj)):
                    kind = _ACM
                    value = await obj.__aenter__()
                else:
                    obj = await obj
                    kind, value = _enter(provider, obj)
        except BaseException:
            self._forget(provider, pending)
            raise
        pending.done = done = _new_object(DoneFuture)  # made only here: its __new__ refuses
        done._value = value
        done._loop = _get_running_loop()
        teardown = None if kind is None else (kind, obj, provider, get_ident())
        if not self._store(provider, pending, done, teardown):
            # Not part of the scope's work: rolled back, with what ended the scope.
            error = ScopeError(closed_during_creation_message(provider, self))
            pending.discarded = True  # its task's error needs no awaiter (_retrieve_discarded)
            if teardown is not None:
                ending = error if pending.ending is None else pending.ending
                if teardown[0] >= _AGEN:
                    failure = await _exit_async(teardown[0], obj, ending, provider)
                else:  # a generator or context manager whose arguments were awaited
                    failure = _exit_sync(teardown[0], obj, ending, provider)
                if failure is not None:
                    raise failure
            raise error
        return value

    # Early teardown of one provider ---------------------------------------------------------

    def _detach(self, provider: Any) -> _Teardown | None:
        """Drop ``provider``'s instance from this scope; return its teardown record, if any."""
        with _lock:
            instances = self._instances
            if self._state != _ACTIVE or instances is None or type(instances.get(provider, _MISSING)) is _Pending:
                return None
            del instances[provider]
            teardowns = self._teardowns
            if teardowns:
                for index in range(len(teardowns) - 1, -1, -1):
                    if teardowns[index][2] is provider:
                        return teardowns.pop(index)
        return None

    # Closing --------------------------------------------------------------------------------

    def _begin_close(self, exc: BaseException | None) -> list[_Teardown] | None:
        """Mark the scope closing; return its teardowns, or None if it was closing already. A
        creation still pending keeps ``exc``, to throw into its teardown when it ends.
        Nothing is handed out any more: without its instance table, a resolve during teardown,
        from the request's own tasks too, raises ScopeError (the compiled twin's _ready_value
        checks the state)."""
        with _lock:
            if self._state >= _CLOSING:
                return None
            self._state = _CLOSING
            if self._instances is not None and exc is not None:
                for value in self._instances.values():
                    if type(value) is _Pending:
                        value.ending = exc
            self._instances = None
            teardowns, self._teardowns = self._teardowns, None
        return teardowns or []

    def _finish_close(self) -> None:
        self._state = _CLOSED
        self._instances = None

    def close(self, exc: BaseException | None = None) -> None:
        """Tear down what the scope created, newest first, with ``exc`` thrown in.

        ``exc`` is the exception that ended the scope, if any: it is thrown into generators and
        passed to ``__exit__``, and not raised here; teardown errors are attached to it as notes.
        Without it, teardown errors are raised together in a ``BaseExceptionGroup``.
        Asynchronous resources cannot be closed here: the synchronous ones are torn down and a
        ``ScopeError`` names the rest. Closing a closed scope does nothing.
        """
        check_exception(exc)
        teardowns = self._begin_close(exc)
        if teardowns is not None:
            self._teardown(teardowns, exc)

    def _teardown(self, teardowns: list[_Teardown], exc: BaseException | None) -> None:
        errors: list[tuple[Any, BaseException]] | None = []
        async_left = []
        error = None
        try:
            for kind, obj, provider, _ in reversed(teardowns):
                if kind >= _AGEN:
                    async_left.append(provider)
                    continue
                error = _exit_sync(kind, obj, exc, provider)
                if error is not None:
                    errors.append((provider, error))  # type: ignore[union-attr]
        finally:
            self._finish_close()
        try:
            if errors or async_left:
                report_teardown(self, exc, errors, async_left)  # type: ignore[arg-type]
        finally:
            # The errors' tracebacks hold this frame (the teardown's frames point back to it):
            # it must not hold them, or each failed scope is a reference cycle.
            errors = error = None

    def aclose(self, exc: BaseException | None = None) -> Awaitable[None]:
        """Tear down what the scope created, newest first, with ``exc`` thrown in; await it.

        Like ``close()``, and it also closes asynchronous resources. Synchronous teardown of a
        resource created in a worker thread runs in a worker thread, off the event loop. Once
        begun, the teardown is shielded from cancellation: it finishes, then the cancellation is
        raised. What needs no awaiting is done before the awaitable is returned.
        """
        check_exception(exc)
        teardowns = self._begin_close(exc)
        if teardowns is None:
            return DONE
        if not _needs_await(teardowns):
            self._teardown(teardowns, exc)
            return DONE
        return self._teardown_awaiting(teardowns, exc)

    async def _teardown_awaiting(self, teardowns: list[_Teardown], exc: BaseException | None) -> None:
        cancelled = None
        try:
            errors, cancelled = await shielded(_teardown_async(teardowns, exc))
        finally:
            self._finish_close()
        if cancelled is not None:
            report_teardown(self, cancelled, errors, ())
            raise cancelled
        if errors:
            report_teardown(self, exc, errors, ())

    def _live_resources(self) -> list[Any]:
        """The providers whose instances an active scope would tear down."""
        if self._state != _ACTIVE or not self._teardowns:
            return []
        return [provider for _, _, provider, _ in self._teardowns]

    def __del__(self, _finalizing: Callable[[], bool] = sys.is_finalizing) -> None:
        if self._state != _ACTIVE:
            return  # never entered, or ended: nothing of it left open
        if _finalizing():  # said at exit, by warn_open_at_exit, while warnings still work
            return
        live = self._live_resources()
        if live:
            warnings.warn(gc_open_message(self._name, live), ResourceWarning, stacklevel=1)


def _retrieve_discarded(pending: _Pending, task: asyncio.Task[Any]) -> None:
    """A creation task's done-callback: the error of a creation discarded because its scope
    closed meanwhile is nobody's to await (its awaiters' shields may be gone)."""
    if pending.discarded and not task.cancelled():
        task.exception()


def _make(inner: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """Call the provider that makes an instance, and latch its async mode ourselves.

    ``Provider.__call__`` would take a generator for a coroutine on Python < 3.12 and keep the
    inner provider on dependency-injector's slow asynchronous path for good.
    """
    obj = inner._provide(args, kwargs)
    if inner.is_async_mode_undefined():
        if isawaitable(obj):
            inner.enable_async_mode()
        else:
            inner.disable_async_mode()
    return obj


def _is_creating(creating: tuple[Any] | None, pending: _Pending) -> bool:
    """Whether ``pending`` is among the creations in progress ``creating`` (see _creating)."""
    while creating is not None:
        if creating is pending.creation:
            return True
        creating = creating[0]
    return False


def _enter(provider: _ScopedProvider[Any], obj: Any) -> tuple[int | None, Any]:
    """Enter what ``provider`` created: return its teardown kind (None: nothing to tear down;
    ``_AWAIT``: finish asynchronously) and the instance."""
    if not provider._tears_down:
        return (_AWAIT if isawaitable(obj) else None), obj
    cls = type(obj)
    if cls is GeneratorType:
        try:
            return _GEN, next(obj)
        except StopIteration:
            pass
        # Raised outside the handler: its context is the caller's, as in the compiled twin.
        raise RuntimeError(didnt_yield_message(provider))
    if cls is AsyncGeneratorType:
        return _AWAIT, obj
    if hasattr(cls, "__enter__") and hasattr(cls, "__exit__") and not (_is_async_cm(cls) and _in_event_loop()):
        return _CM, obj.__enter__()
    if _is_async_cm(cls) or isawaitable(obj):
        return _AWAIT, obj
    return None, obj


def _in_event_loop() -> bool:
    """Whether an event loop runs in this thread: an object that is both a context manager and
    an async one (``aiohttp.ClientSession``) is entered the way the code that resolves it runs."""
    try:
        _get_running_loop()
    except RuntimeError:
        return False
    return True


def _is_async_cm(cls: type) -> bool:
    return hasattr(cls, "__aenter__") and hasattr(cls, "__aexit__")


def _needs_await(teardowns: list[_Teardown]) -> bool:
    """Whether a teardown must be awaited: async resources, or sync ones made in other threads."""
    me = get_ident()
    return any(kind >= _AGEN or thread != me for kind, _, _, thread in teardowns)


def _is_own(error: BaseException, exc: BaseException | None) -> bool:
    """Whether ``error`` is the scope's exception coming back out of a teardown.

    Its traceback then gets back what it was: the frames the teardown added would keep the
    teardown's objects alive (and form a reference cycle through ``exc``).
    """
    return exc is not None and (error is exc or (isinstance(error, RuntimeError) and error.__cause__ is exc))


def _exit_sync(kind: int, obj: Any, exc: BaseException | None, provider: Any) -> BaseException | None:
    """Run one synchronous teardown; return the error it raised, other than ``exc`` itself."""
    traceback = None if exc is None else exc.__traceback__
    try:
        if kind == _GEN:
            try:
                if exc is None:
                    next(obj)
                else:
                    obj.throw(exc)
            except StopIteration:
                return None
            obj.close()
            return RuntimeError(didnt_stop_message(provider))
        if exc is None:
            obj.__exit__(None, None, None)
        else:
            obj.__exit__(type(exc), exc, exc.__traceback__)
        return None
    except BaseException as error:
        if not _is_own(error, exc):
            return error
        return None
    finally:
        if exc is not None:
            exc.__traceback__ = traceback  # whatever the teardown did with it: without its frames


async def _exit_async(kind: int, obj: Any, exc: BaseException | None, provider: Any) -> BaseException | None:
    """Run one asynchronous teardown; return the error it raised, other than ``exc`` itself."""
    traceback = None if exc is None else exc.__traceback__
    try:
        if kind == _AGEN:
            try:
                if exc is None:
                    await obj.__anext__()
                else:
                    await obj.athrow(exc)
            except StopAsyncIteration:
                return None
            await obj.aclose()
            return RuntimeError(didnt_stop_message(provider))
        if exc is None:
            await obj.__aexit__(None, None, None)
        else:
            await obj.__aexit__(type(exc), exc, exc.__traceback__)
        return None
    except BaseException as error:
        if not _is_own(error, exc):
            return error
        return None
    finally:
        if exc is not None:
            exc.__traceback__ = traceback  # whatever the teardown did with it: without its frames


async def _teardown_async(teardowns: list[_Teardown], exc: BaseException | None) -> list[tuple[Any, BaseException]]:
    errors = []
    me = get_ident()
    for kind, obj, provider, thread in reversed(teardowns):
        if kind >= _AGEN:
            error = await _exit_async(kind, obj, exc, provider)
        elif thread != me:  # created in a worker thread: its teardown may block
            error = await in_teardown_thread(_exit_sync, kind, obj, exc, provider)
        else:
            error = _exit_sync(kind, obj, exc, provider)
        if error is not None:
            errors.append((provider, error))
    return errors


async def shielded(coro: Coroutine[Any, Any, _R]) -> tuple[_R, BaseException | None]:
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

    def __await__(self) -> Generator[Any, Any, tuple[Any, BaseException | None]]:
        coro, yielded = self.coro, self.yielded
        cancelled: BaseException | None = None
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


def _named_scope(scope: Scope | None, name: str) -> Scope | None:
    while scope is not None and scope._name != name:
        scope = scope._parent
    return scope


def _open_scope(scope: Scope | None) -> Scope | None:
    """The innermost scope that is not exclusive: where unbound providers live."""
    while scope is not None and scope._exclusive:
        scope = scope._parent
    return scope


class _ScopedProvider(providers.Provider[_T]):
    """What the two scoped providers share: scope binding, lookup, copying, injections."""

    _inner_type: Any = providers.Callable
    _tears_down = True

    def __init__(self, provides: Any | None = None, *args: Any, **kwargs: Any) -> None:
        self._inner = self._inner_type(check_provides(self, provides), *args, **kwargs)
        self._caller: _Caller | None = None  # ContextLocalResource's way of calling provides
        self._scope_name: str | None = None
        super().__init__()

    # Scope binding --------------------------------------------------------------------------

    def in_scope(self: _P, name: str) -> _P:
        """Bind to the innermost active scope called ``name`` instead of the innermost scope.

        Returns the provider, so it chains in a container body:
        ``connection = ContextLocalResource(open_connection).in_scope("websocket")``.
        """
        self._scope_name = check_scope_name(name)
        return self

    @property
    def scope_name(self) -> str | None:
        """The scope name bound with ``in_scope()``, or None for the innermost scope."""
        return self._scope_name

    def _scope_or_none(self) -> Scope | None:
        scope = _current_scope.get()
        if self._scope_name is not None:
            return _named_scope(scope, self._scope_name)
        return _open_scope(scope)

    def _provide(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self._resolve(self._scope_or_none(), args, kwargs)

    def _resolve(self, scope: Scope | None, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """_provide() for the scope this provider binds to (None: no such scope is active)."""
        if scope is None:
            current = _current_scope.get()
            if current is None:
                raise ScopeError(no_scope_message(self))
            if self._scope_name is None:
                raise ScopeError(only_exclusive_message(self, current))
            raise ScopeError(unknown_scope_message(self, self._scope_name, current))
        instances = scope._instances
        if instances is not None:
            value = instances.get(self, _MISSING)
            if type(value) is not _Pending:
                return value
        return scope._get_or_create(self, args, kwargs)

    def _instantiate(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """Make a new instance; an awaitable stands for one that async injections hold up."""
        try:
            return _make(self._inner, args, kwargs)
        except TypeError:
            if self._inner.provides is None:  # checked here: no cost when it is set
                raise di_errors.Error(no_provides_message(self)) from None
            raise

    def _has_instance(self) -> bool:
        """Whether the scope this provider binds to holds a created instance."""
        scope = self._scope_or_none()
        instances = None if scope is None else scope._instances
        return instances is not None and type(instances.get(self, _MISSING)) is not _Pending

    # dependency-injector's provider protocol ------------------------------------------------

    def __deepcopy__(self, memo: dict[Any, Any] | None) -> Any:
        if memo is None:
            memo = {}
        copied = memo.get(id(self))
        if copied is not None:
            return copied
        if self._tears_down and self._has_instance():
            raise di_errors.Error(copy_initialized_message(self))
        copied = type(self)()
        memo[id(self)] = copied
        copied._inner = copy_inner_deeply(self, self._inner, memo)
        copied._scope_name = self._scope_name
        self._copy_overridings(copied, memo)
        return copied

    def __copy__(self) -> Any:
        """A provider of its own with the same provides, injections, scope binding and
        overriding providers; no instances."""
        copied = type(self)()
        copied._inner = copy_inner(self._inner)
        copied._scope_name = self._scope_name
        for provider in self.overridden:
            copied.override(provider)
        return copied

    def __str__(self) -> str:
        return represent(self)

    __repr__ = __str__

    @property
    def related(self) -> Any:
        """Providers this one depends on: injections and overriding providers."""
        yield from self._inner.related
        yield from self.overridden

    @property
    def provides(self) -> Any:
        """What the provider calls to create an instance."""
        return self._inner.provides

    def set_provides(self: _P, provides: Any) -> _P:
        self._inner.set_provides(check_provides(self, provides))
        self._caller = None
        return self

    @property
    def args(self) -> tuple[Any, ...]:
        """Positional argument injections."""
        return self._inner.args  # type: ignore[no-any-return]

    def add_args(self: _P, *args: Any) -> _P:
        self._inner.add_args(*args)
        self._caller = None
        return self

    def set_args(self: _P, *args: Any) -> _P:
        self._inner.set_args(*args)
        self._caller = None
        return self

    def clear_args(self: _P) -> _P:
        self._inner.clear_args()
        self._caller = None
        return self

    @property
    def kwargs(self) -> dict[str, Any]:
        """Keyword argument injections."""
        return self._inner.kwargs  # type: ignore[no-any-return]

    def add_kwargs(self: _P, **kwargs: Any) -> _P:
        self._inner.add_kwargs(**kwargs)
        self._caller = None
        return self

    def set_kwargs(self: _P, **kwargs: Any) -> _P:
        self._inner.set_kwargs(**kwargs)
        self._caller = None
        return self

    def clear_kwargs(self: _P) -> _P:
        self._inner.clear_kwargs()
        self._caller = None
        return self


class ContextLocalSingleton(_ScopedProvider[_T]):
    """One instance per scope, created like ``providers.Factory`` would; no teardown.

    A drop-in for ``dependency_injector.providers.ContextLocalSingleton`` whose instance lives in
    the current scope, so it is shared with threads and tasks of that scope and dropped when the
    scope ends.
    """

    _inner_type = providers.Factory
    _tears_down = False

    provided_type: type | None = None
    """A subclass that sets it provides only instances of this class (checked when built)."""

    def __init__(self, provides: Callable[..., _T] | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(provides, *args, **kwargs)

    @property
    def cls(self) -> Any:
        """The class it provides: ``provides``, as dependency-injector's singletons name it."""
        return self._inner.provides

    @property
    def attributes(self) -> dict[str, Any]:
        """Attribute injections."""
        return self._inner.attributes  # type: ignore[no-any-return]

    def add_attributes(self: _P, **kwargs: Any) -> _P:
        self._inner.add_attributes(**kwargs)
        return self

    def set_attributes(self: _P, **kwargs: Any) -> _P:
        self._inner.set_attributes(**kwargs)
        return self

    def clear_attributes(self: _P) -> _P:
        self._inner.clear_attributes()
        return self

    def reset(self) -> Any:
        """Drop the current scope's instance; the next resolve creates a new one."""
        scope = self._scope_or_none()
        if scope is not None:
            scope._detach(self)
        return providers.SingletonResetContext(self)

    def full_reset(self) -> Any:
        """Reset this provider and every scoped or d-i singleton it depends on."""
        self.reset()
        provider: Any
        for provider in self.traverse():
            if isinstance(provider, (ContextLocalSingleton, providers.BaseSingleton)):
                provider.reset()
        return providers.SingletonFullResetContext(self)


class ContextLocalResource(_ScopedProvider[_T]):
    """One instance per scope, torn down when the scope ends.

    ``provides`` is a generator function, an async generator function, a callable returning a
    context manager or an async context manager, or a plain callable (no teardown). A drop-in for
    ``dependency_injector.providers.ContextLocalResource``; teardown is driven by the scope and
    sees the exception that ended it.
    """

    @overload
    def __init__(self, provides: Callable[..., Iterator[_T]] | None = None, *args: Any, **kwargs: Any) -> None: ...
    @overload
    def __init__(self, provides: Callable[..., AsyncIterator[_T]] | None = None, *args: Any, **kwargs: Any) -> None: ...
    @overload
    def __init__(
        self, provides: Callable[..., AbstractContextManager[_T]] | None = None, *args: Any, **kwargs: Any
    ) -> None: ...
    @overload
    def __init__(
        self, provides: Callable[..., AbstractAsyncContextManager[_T]] | None = None, *args: Any, **kwargs: Any
    ) -> None: ...
    @overload
    def __init__(self, provides: Callable[..., Awaitable[_T]] | None = None, *args: Any, **kwargs: Any) -> None: ...
    @overload
    def __init__(self, provides: Callable[..., _T] | None = None, *args: Any, **kwargs: Any) -> None: ...
    def __init__(self, provides: Any | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(provides, *args, **kwargs)

    def _instantiate(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        if self._caller is None:
            if self._inner.provides is None:
                raise di_errors.Error(no_provides_message(self))
            self._caller = _Caller(self._inner)
        return self._caller.call(args, kwargs)

    @property
    def initialized(self) -> bool:
        """Whether the current scope holds an instance."""
        return self._has_instance()

    def init(self) -> Any:
        """Resolve the resource in the current scope (``await`` it if it is asynchronous)."""
        return self()

    def shutdown(self) -> Any:
        """Tear down the current scope's instance now, as on success; the next resolve creates a
        new one. Returns an awaitable when the provider is asynchronous."""
        return self._shutdown(None)

    def _shutdown(self, exc: BaseException | None) -> Any:
        """shutdown() with ``exc`` thrown into the teardown (a ``Closing[...]`` call that failed)."""
        scope = self._scope_or_none()
        teardown = None if scope is None else scope._detach(self)
        if teardown is not None:
            kind, obj, _, _ = teardown
            if kind >= _AGEN:
                return _raise_if_error(_exit_async(kind, obj, exc, self))
            error = _exit_sync(kind, obj, exc, self)
            if error is not None:
                raise error
        return DONE if self.is_async_mode_enabled() else None


class _Caller:
    """How a ContextLocalResource calls ``provides`` with its injections resolved.

    dependency-injector's Callable would do it, but on Python < 3.12 it takes a generator for a
    coroutine and runs it as a task once an injection is asynchronous; and resolving here skips
    its generic machinery. Injections follow its rules: a provider is called, unless it is
    delegated; call arguments come after injected ones. Call-time keyword arguments (rare for a
    scoped provider) go through dependency-injector itself, for its ``name__attr`` forwarding.
    """

    __slots__ = ("provides", "values", "calls", "names", "named_values", "named_calls", "inner", "packer")

    def __init__(self, inner: Any) -> None:
        self.inner = inner  # holds the latch "injections may be awaitable" in its async mode
        self.provides = inner.provides
        self.values: tuple[Any, ...] = inner.args
        self.calls = tuple(_injects(value) for value in self.values)
        named = inner.kwargs
        self.names = tuple(named)
        self.named_values = tuple(named.values())
        self.named_calls = tuple(_injects(value) for value in self.named_values)
        self.packer: Any = None  # dependency-injector's resolution, for call-time keyword arguments

    def call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        check = not self.inner.is_async_mode_disabled()
        pending = False
        if kwargs:
            if self.packer is None:
                self.packer = providers.Callable(
                    _pack, *self.values, **dict(zip(self.names, self.named_values, strict=True))
                )
            packed = _make(self.packer, args, kwargs)
            if isawaitable(packed):
                return _call_when_ready(self.provides, packed)
            return self.provides(*packed[0], **packed[1])
        if not self.values and not self.names:
            return self.provides(*args)
        positional = list(self.values)
        for index, call in enumerate(self.calls):
            if call:
                positional[index] = value = positional[index]()
                if check and isawaitable(value):
                    pending = True
        if args:
            positional.extend(args)
        named = {}
        for name, value, call in zip(self.names, self.named_values, self.named_calls, strict=True):
            if call:
                value = value()
                if check and isawaitable(value):
                    pending = True
            named[name] = value
        if self.inner.is_async_mode_undefined():
            if pending:
                self.inner.enable_async_mode()
            else:
                self.inner.disable_async_mode()
        if pending:
            return _call_with_injections(self.provides, positional, named)
        return self.provides(*positional, **named)


def _injects(value: Any) -> bool:
    return bool(providers.is_provider(value) and not providers.is_delegated(value))


def _pack(*args: Any, **kwargs: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    return args, kwargs


async def _await_injections(args: list[Any], kwargs: dict[str, Any]) -> tuple[list[Any], dict[str, Any]]:
    """Await the injections that are awaitable, together; return the arguments."""
    names = [name for name, value in kwargs.items() if isawaitable(value)]
    indexes = [index for index, value in enumerate(args) if isawaitable(value)]
    values = await asyncio.gather(*[args[i] for i in indexes], *[kwargs[n] for n in names])
    for index, value in zip(indexes, values, strict=True):
        args[index] = value
    for name, value in zip(names, values[len(indexes) :], strict=True):
        kwargs[name] = value
    return args, kwargs


async def _call_with_injections(provides: Callable[..., Any], args: list[Any], kwargs: dict[str, Any]) -> Any:
    # Awaits _await_injections itself: were it handed one, closing this coroutine unstarted (no
    # event loop) would leave that one never awaited, and warning.
    args, kwargs = await _await_injections(args, kwargs)
    return provides(*args, **kwargs)


async def _call_when_ready(provides: Callable[..., Any], packed: Awaitable[Any]) -> Any:
    args, kwargs = await packed
    return provides(*args, **kwargs)


async def _raise_if_error(teardown: Awaitable[BaseException | None]) -> None:
    error = await teardown
    if error is not None:
        raise error


def current_scope() -> Scope | None:
    """The innermost active scope, or None."""
    return _current_scope.get()


def _adopt(scope: Scope) -> Any:
    """Make ``scope``, entered in another context (an application's lifespan task), the current
    scope of this one, so that scopes entered here nest in it; return the token for ``_unadopt``."""
    return _current_scope.set(scope)


def _unadopt(token: Any) -> None:
    _current_scope.reset(token)


@overload
def scope(name: str = DEFAULT_SCOPE_NAME, *, exclusive: bool = False) -> Scope: ...
@overload
def scope(name: _F) -> _F: ...
def scope(name: str | _F = DEFAULT_SCOPE_NAME, *, exclusive: bool = False) -> Scope | _F:
    """A new scope named ``name``, nested in the current one when entered.

    Use it as ``with scope():``, ``async with scope():``, or as a decorator (``@scope()``,
    ``@scope("job")`` or bare ``@scope``): each call of the decorated function runs in a fresh scope.
    An ``exclusive`` scope holds only providers bound to its name with ``in_scope()``; the others
    resolve in the enclosing scope (the FastAPI integration's "endpoint" scope is one).
    ``exclusive`` is ``True`` or ``False``; a ``str`` subclass as ``name`` (a ``StrEnum`` member)
    is kept as its plain ``str`` value. Scopes exit innermost first: exiting one while a scope
    entered inside it is open raises ``ScopeError`` and closes both.
    """
    if callable(name):
        return scoped_function(Scope, name)  # type: ignore[no-any-return]
    return Scope(name, exclusive=exclusive)


# The fast path's Factory graphs ------------------------------------------------------------
# The fast path's injection, in pure Python: the twin of the last section of ``_scope_c.pyx``.
#
# ``di_scopes.fastapi.inject`` gives exactly what dependency-injector's ``@inject`` gives, with
# less work for ``Factory`` graphs over asynchronous providers. Once an injection of a ``Factory``
# is a future or a coroutine, dependency-injector combines the injections with ``asyncio.gather``,
# done-callbacks and ``ensure_future``: several event-loop turns per ``Factory``, even when every
# future is already done, as a scope's instances are. ``provide`` builds such a graph itself: a
# done future's result is taken at once, and only what is still pending is awaited, together.
#
# Everything else is dependency-injector's own: the injections are read from the providers at each
# call; a provider that is overridden, is not a plain ``Factory``, or is latched to sync mode is
# simply called; and each ``Factory`` built here is left in the async mode a call of it would have
# left it in (a ``Factory`` is asynchronous when an injection's provider is, even if the instance
# that provider gave was built here at once).
#
# The compiled twin also builds a plain ``Factory`` latched to sync mode, not overridden and
# without attribute injections, as dependency-injector's sync call does (each injection's
# provider called in order, its value passed as it is): in C that saves most of the call's cost,
# here it would add to it, so this twin calls such a provider. The behaviour is the same.

_Factory = providers.Factory
_is_provider = providers.is_provider
_is_delegated = providers.is_delegated
# What dependency-injector's @inject injects over when the caller passed it: its markers.
_MARKERS: tuple[type, ...] = tuple(getattr(wiring, name) for name in ("Provide", "Provider", "Closing"))


def provide_graph(provider: Any) -> Any:
    """``provider()``, with a ``Factory`` graph that has asynchronous injections built here.

    Returns the value, or an awaitable for it when something it needs is still pending (a
    ``DoneFuture`` or a ``Future`` that is done counts as a value: the caller may take its result).
    """
    if _builds(provider):
        return _build_graph(provider)
    return provider()


def _builds(provider: Any) -> bool:
    """Whether the fast path builds ``provider`` itself: a plain ``Factory``, not overridden,
    not latched to sync mode (then dependency-injector's call is as fast)."""
    return provider.__class__ is _Factory and not provider.is_async_mode_disabled() and provider.last_overriding is None


# What a pending injection is: (the list or dict holding it, its index or name, whether it is
# the fast path's own build, which may be awaited in the caller's task).
_Slot = tuple[Any, Any, bool]

# Classes whose instances are never futures or coroutines: dependency-injector's test below
# is a hasattr and two isinstance checks against ABCs; most injected values are of a few classes.
_plain_classes: set[type] = set()


def _is_future_or_coroutine(value: Any) -> bool:
    # dependency-injector's own test for an injection that must be awaited
    cls = value.__class__
    if cls is DoneFuture or cls is Future:
        return True
    if cls in _plain_classes:
        return False
    if asyncio.isfuture(value) or asyncio.iscoroutine(value):
        return True
    if not hasattr(cls, "_asyncio_future_blocking") and len(_plain_classes) < 256:
        _plain_classes.add(cls)
    return False


# Whether instances of a class are awaitable: inspect.isawaitable's answer, which for anything
# but a generator depends on the class alone; most injected values are of a few classes.
_awaitable_classes: dict[type, bool] = {}


def _is_awaitable(value: Any) -> bool:
    cls = value.__class__
    known = _awaitable_classes.get(cls)
    if known is None:
        known = isawaitable(value)
        if cls is not GeneratorType and len(_awaitable_classes) < 256:
            _awaitable_classes[cls] = known
    return known


_NOT_DONE = object()


def _done_result(value: Any) -> Any:
    """The result of a future that finished with one, else _NOT_DONE (to be awaited: a failed
    future raises there, after every other injection was resolved, as in dependency-injector)."""
    if value.__class__ is DoneFuture:
        return value._value
    if value.__class__ is Future and value.done() and not value.cancelled() and value.exception() is None:
        return value.result()
    return _NOT_DONE


def _build_graph(factory: Any) -> Any:
    state = _GraphState()
    args = factory.args
    if args:
        args = list(args)
        for index, value in enumerate(args):
            if _is_provider(value) and not _is_delegated(value):
                args[index] = state.take(value, args, index)
    kwargs = factory.kwargs
    for name, value in kwargs.items():
        if _is_provider(value) and not _is_delegated(value):
            kwargs[name] = state.take(value, kwargs, name)
    attributes = factory.attributes
    for name, value in attributes.items():
        if _is_provider(value) and not _is_delegated(value):
            attributes[name] = state.take(value, attributes, name)
    provides = factory.provides
    if state.pending is not None:
        _latch(factory, True)
        return _build_when_ready(provides, args, kwargs, attributes, state.pending)
    instance = provides(*args, **kwargs)
    if _is_future_or_coroutine(instance):  # an async factory function
        _latch(factory, True)
        return _with_attributes(instance, attributes) if attributes else instance
    for name, value in attributes.items():
        setattr(instance, name, value)
    _latch(factory, state.asynchronous)
    return instance


class _GraphState:
    """What resolving one Factory's injections found."""

    __slots__ = ("asynchronous", "pending")

    def __init__(self) -> None:
        self.asynchronous = False  # dependency-injector's Factory would have returned a future
        self.pending: list[_Slot] | None = None

    def take(self, provider: Any, values: Any, key: Any) -> Any:
        """The injection's value: a done future's result; a pending one is noted for awaiting."""
        built = _builds(provider)
        value = _build_graph(provider) if built else provider()
        if provider.is_async_mode_enabled():
            # Its call would have handed out a future, even where the instance was built here.
            self.asynchronous = True
        if not _is_future_or_coroutine(value):  # built here: the instance; else as dependency-injector sees it
            return value
        self.asynchronous = True
        done = _done_result(value)
        if done is not _NOT_DONE:
            return done
        if self.pending is None:
            self.pending = []
        self.pending.append((values, key, built))
        return value


def _latch(factory: Any, asynchronous: bool) -> None:
    if factory.is_async_mode_undefined():
        if asynchronous:
            factory.enable_async_mode()
        else:
            factory.disable_async_mode()


async def await_pending(values: Any, pending: list[_Slot]) -> Any:
    """Await the pending values in ``values`` (a list or dict) and put their results in place.

    Several are awaited together, with ``asyncio.gather``, as dependency-injector does. A lone
    future, or the fast path's own build, is awaited in the caller's task: a task of its own
    would give the same result a few event-loop turns later.
    """
    if len(pending) == 1:
        _, key, built = pending[0]
        value = values[key]
        if built or asyncio.isfuture(value):
            values[key] = await value
            return values
    results = await asyncio.gather(*[values[key] for _, key, _ in pending])
    for (_, key, _), result in zip(pending, results, strict=True):
        values[key] = result
    return values


async def _build_when_ready(
    provides: Any, args: list[Any], kwargs: dict[str, Any], attributes: dict[str, Any], pending: list[_Slot]
) -> Any:
    if len(pending) == 1:
        values, key, built = pending[0]
        value = values[key]
        if built or asyncio.isfuture(value):
            values[key] = await value
        else:
            values[key] = (await asyncio.gather(value))[0]
    else:
        results = await asyncio.gather(*[values[key] for values, key, _ in pending])
        for (values, key, _), result in zip(pending, results, strict=True):
            values[key] = result
    instance = provides(*args, **kwargs)
    if _is_future_or_coroutine(instance):
        instance = await instance
    for name, value in attributes.items():
        setattr(instance, name, value)
    return instance


async def _with_attributes(instance: Any, attributes: dict[str, Any]) -> Any:
    instance = await instance
    for name, value in attributes.items():
        setattr(instance, name, value)
    return instance


def inject_into(injections: dict[str, Any], kwargs: dict[str, Any]) -> list[_Slot] | None:
    """Resolve an async function's injections (name -> provider) into ``kwargs``, as
    dependency-injector's ``@inject`` does, building ``Factory`` graphs here.

    A name is injected unless the caller passed it (a marker passed counts as not passed). Every
    provider is called first; then what ``@inject`` would await must still be awaited, except a
    done future, whose result is taken at once. Returns the pending names, as
    ``await_pending(kwargs, pending)`` takes them, or None.
    """
    pending: list[_Slot] | None = None
    for name, provider in injections.items():
        if name in kwargs and not isinstance(kwargs[name], _MARKERS):
            continue
        if _builds(provider):
            value = _build_graph(provider)
            built = True
            awaited = _is_future_or_coroutine(value)  # still pending; else the instance itself
        else:
            value = provider()
            built = False
            awaited = provider.is_async_mode_enabled() or _is_awaitable(value)
        if awaited:
            done = _done_result(value)
            if done is _NOT_DONE:
                if pending is None:
                    pending = []
                pending.append((kwargs, name, built))
            else:
                value = done
        kwargs[name] = value
    return pending


def inject_sync(injections: dict[str, Any], kwargs: dict[str, Any]) -> None:
    """Resolve a sync function's injections into ``kwargs``, as dependency-injector's
    ``@inject`` does: each provider called, its value passed as it is."""
    for name, provider in injections.items():
        if name in kwargs and not isinstance(kwargs[name], _MARKERS):
            continue
        kwargs[name] = provider()


def call_in_scope(
    scope: Scope, injections: dict[str, Any], fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> Any:
    """``with scope:`` resolve ``fn``'s injections into ``kwargs`` and return ``fn(*args,
    **kwargs)``: the sync fast path's call (the compiled twin's makes no method calls for the with
    statement)."""
    with scope:
        inject_sync(injections, kwargs)
        return fn(*args, **kwargs)


def _find_value(scope: Scope | None, key: Any) -> Any:
    """The value for ``key`` in ``scope`` or the nearest enclosing scope that has one, else _MISSING."""
    while scope is not None:
        values = scope._values
        if values is not None and key in values:
            return values[key]
        scope = scope._parent
    return _MISSING


class ScopeValue(providers.Provider[_V]):
    """Injects the value put into the current scope under ``key``.

    The integrations put their framework's request object there under ``di_scopes.REQUEST``
    (the Celery integration the task under ``di_scopes.TASK``); ``Scope.set_value(key, value)``
    puts any other. ``providers.Factory(CurrentUser, request=ScopeValue(di_scopes.REQUEST))``
    then builds on the request without passing it through every layer. Resolving it outside a
    scope, or when no active scope holds the key, raises ``ScopeError``.
    """

    def __init__(self, key: Any = None) -> None:
        self._key = key
        super().__init__()

    @property
    def key(self) -> Any:
        """The key the value is looked up under."""
        return self._key

    @property
    def provides(self) -> Any:
        """The key (what ``describe`` and ``repr`` show)."""
        return self._key

    def _provide(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        scope = _current_scope.get()
        if scope is None:
            raise ScopeError(value_outside_scope_message(self))
        value = _find_value(scope, self._key)
        if value is _MISSING:
            raise ScopeError(no_value_message(self, scope))
        return value

    def __deepcopy__(self, memo: dict[Any, Any] | None) -> Any:
        if memo is None:
            memo = {}
        copied = memo.get(id(self))
        if copied is not None:
            return copied
        copied = type(self)(self._key)
        memo[id(self)] = copied
        self._copy_overridings(copied, memo)
        return copied

    def __str__(self) -> str:
        return providers.represent_provider(provider=self, provides=self._key)

    __repr__ = __str__

    @property
    def related(self) -> Any:
        """Overriding providers."""
        yield from self.overridden
