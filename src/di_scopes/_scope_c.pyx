# cython: language_level=3, embedsignature=True
"""Scopes and scoped providers, compiled: the twin of ``_scope_py.py``.

The structure follows the pure twin function by function; a comment names the counterpart where
the shape differs. The resolve path (ContextVar lookup, instance lookup, async-mode rules) and
the teardown loop run in C. Generators are driven with ``PyIter_Send``, so neither entering nor
leaving a generator resource raises ``StopIteration``.
"""

cimport cython
from cpython.contextvars cimport PyContextVar_Reset, PyContextVar_Set, get_value
from cpython.object cimport PyObject, PyTypeObject, Py_TYPE
from cpython.ref cimport Py_XDECREF
from dependency_injector.providers cimport Provider

import asyncio
import threading
import warnings
from contextvars import ContextVar
from inspect import isawaitable
from types import AsyncGeneratorType, GeneratorType

from anyio import to_thread
from dependency_injector import providers

from ._common import (
    DEFAULT_SCOPE_NAME,
    DONE,
    ScopeError,
    check_exception,
    check_scope_name,
    circular_message,
    closed_during_creation_message,
    closed_scope_message,
    didnt_stop_message,
    didnt_yield_message,
    gc_open_message,
    no_loop_message,
    no_scope_message,
    reentered_message,
    report_teardown,
    scoped_function,
    shielded,
    unknown_scope_message,
)

__all__ = [
    "ContextLocalResource",
    "ContextLocalSingleton",
    "Scope",
    "ScopeError",
    "current_scope",
    "scope",
]


cdef extern from "Python.h":
    PyObject* PyDict_GetItem(object mapping, object key)  # borrowed, NULL when absent
    int PyIter_Send(object iterator, object arg, PyObject** presult) except -1
    bint PyGen_CheckExact(object obj)
    bint PyCoro_CheckExact(object obj)
    unsigned long PyThread_get_thread_ident()


cdef enum:
    PYGEN_RETURN = 0
    PYGEN_NEXT = 1

# dependency-injector's async modes (Provider._async_mode), unchanged since 4.0.
cdef enum:
    ASYNC_MODE_UNDEFINED = 0
    ASYNC_MODE_ENABLED = 1
    ASYNC_MODE_DISABLED = 2

# Scope states.
cdef enum:
    NEW = 0
    ACTIVE = 1
    CLOSING = 2
    CLOSED = 3

_STATE_NAMES = ("new", "active", "closing", "closed")

# Teardown kinds; the async ones sort last.  NO_TEARDOWN stands for the pure twin's None.
# What Scope._get_or_create's locked look-up found (the pure twin branches inside the lock).
cdef enum:
    FOUND_NOTHING
    FOUND_VALUE
    FOUND_TASK
    FOUND_RACE
    FOUND_CYCLE
    FOUND_CLOSED

cdef enum:
    GEN = 0
    CM = 1
    AGEN = 2
    ACM = 3
    AWAIT = -1
    NO_TEARDOWN = -2


cdef object _current_scope = ContextVar("di_scopes.current_scope", default=None)

# Guards the instance tables and teardown lists of all scopes. Held only around dict and list
# updates, never while user code runs (a GIL switch inside a finalizer must not let two threads
# both start the same creation).
cdef cython.pymutex _lock

cdef object _Future = asyncio.Future
cdef object _shield = asyncio.shield


@cython.final
@cython.freelist(8)
@cython.auto_pickle(False)
cdef class _Pending:
    """An entry of a scope's instance table whose creation is in progress."""

    cdef unsigned long owner  # thread creating it, to tell a cycle from a race; 0: none
    cdef object event  # made by the first thread that waits
    cdef object task  # set when the creation is asynchronous

    def __cinit__(self, unsigned long owner):
        self.owner = owner


# Looked up like a pending entry, so one type test covers "absent" and "not ready".
cdef _Pending _MISSING = _Pending(0)

cdef list _NOTHING = []  # what a scope with nothing to tear down tears down; never modified


@cython.final
@cython.freelist(8)
@cython.auto_pickle(False)
cdef class _Teardown:
    """What a scope must undo; the pure twin uses a tuple (kind, obj, provider, thread)."""

    cdef int kind
    cdef object obj
    cdef _ScopedProvider provider
    cdef unsigned long thread


cdef inline _Teardown _teardown(int kind, object obj, _ScopedProvider provider, unsigned long thread):
    cdef _Teardown teardown = _Teardown.__new__(_Teardown)
    teardown.kind = kind
    teardown.obj = obj
    teardown.provider = provider
    teardown.thread = thread
    return teardown


cdef inline Scope _get_current():
    return <Scope>get_value(_current_scope)


@cython.final
@cython.auto_pickle(False)
cdef class Scope:
    """A unit of work that owns one instance of each scoped provider resolved inside it.

    Enter it with ``with`` or ``async with`` (it nests in the current scope), or decorate a
    function with it: each call then runs in a fresh scope of the same name. When it ends, what
    it created is torn down in reverse creation order, with the ending exception thrown in.
    """

    cdef int _state
    cdef str _name
    cdef Scope _parent
    cdef dict _instances  # provider -> instance | _Pending
    cdef list _teardowns  # of _Teardown, in creation order
    cdef object _token

    def __init__(self, name=DEFAULT_SCOPE_NAME):
        self._name = check_scope_name(name)

    @property
    def name(self):
        """The scope's name; providers bound with ``.in_scope(name)`` resolve in it."""
        return self._name

    @property
    def parent(self):
        """The scope that was current when this one was entered, or None."""
        return self._parent

    @property
    def closed(self):
        """True once teardown has begun: nothing new can be created in the scope."""
        return self._state >= CLOSING

    def __repr__(self):
        return f"<Scope {self._name!r} {_STATE_NAMES[self._state]}>"

    # Entering and leaving -------------------------------------------------------------------

    cdef int _activate(self) except -1:
        if self._state != NEW:
            raise ScopeError(reentered_message(self))
        self._parent = _get_current()
        self._token = PyContextVar_Set(_current_scope, self)
        self._state = ACTIVE
        return 0

    cdef int _deactivate(self) except -1:
        token = self._token
        self._token = None
        try:
            PyContextVar_Reset(_current_scope, token)
        except ValueError:  # left in another context than the one it was entered in
            if _get_current() is self:
                PyContextVar_Set(_current_scope, self._parent)
        return 0

    def __enter__(self):
        self._activate()
        return self

    def __exit__(self, exc_type, exc, tb):
        try:
            self._close(exc)
        finally:
            self._deactivate()

    async def __aenter__(self):
        self._activate()
        return self

    async def __aexit__(self, exc_type, exc, tb):
        try:
            await self.aclose(exc)
        finally:
            self._deactivate()

    def __call__(self, func):
        """Decorate a sync or async function: each call runs in a fresh scope of this name."""
        return scoped_function(Scope, self._name, func)

    # Creating -------------------------------------------------------------------------------

    cdef object _get_or_create(self, _ScopedProvider provider, tuple args, dict kwargs):
        cdef unsigned long me = PyThread_get_thread_ident()
        cdef PyObject* found
        cdef _Pending pending = None
        cdef _Pending entry
        cdef int outcome  # what the locked look-up found
        cdef int kind
        while True:
            value = None
            with _lock:
                if self._state != ACTIVE:
                    outcome = FOUND_CLOSED
                else:
                    if self._instances is None:
                        self._instances = {}
                    found = PyDict_GetItem(self._instances, provider)
                    if found is NULL:
                        pending = _Pending.__new__(_Pending, me)
                        self._instances[provider] = pending
                        outcome = FOUND_NOTHING
                    elif Py_TYPE(<object>found) is not <PyTypeObject*>_Pending:
                        value = <object>found
                        outcome = FOUND_VALUE
                    else:
                        entry = <_Pending>found
                        if entry.task is not None:
                            value = entry.task
                            outcome = FOUND_TASK
                        elif entry.owner == me:
                            outcome = FOUND_CYCLE
                        else:
                            if entry.event is None:
                                entry.event = threading.Event()
                            value = entry.event
                            outcome = FOUND_RACE
            if outcome == FOUND_NOTHING:
                break
            if outcome == FOUND_VALUE:
                return value
            if outcome == FOUND_TASK:  # an asynchronous creation in flight
                return _shield(value)
            if outcome == FOUND_CLOSED:
                raise ScopeError(closed_scope_message(provider, self))
            if outcome == FOUND_CYCLE:
                raise ScopeError(circular_message(provider))
            value.wait()

        try:
            obj = provider._instantiate(args, kwargs)
            value = _enter(provider, obj, &kind)
        except BaseException:
            self._forget(provider, pending)
            raise
        if kind == AWAIT:
            return self._start_async(provider, obj, pending)
        teardown = None if kind == NO_TEARDOWN else _teardown(kind, obj, provider, me)
        if not self._store(provider, pending, value, teardown):
            if teardown is not None:
                failure = _exit_sync(kind, obj, None, provider)
                if failure is not None:
                    raise failure
            raise ScopeError(closed_during_creation_message(provider, self))
        return value

    cdef bint _store(self, provider, _Pending pending, value, _Teardown teardown) except -1:
        """Publish a created instance; False when the scope began closing meanwhile."""
        cdef bint stored
        with _lock:
            stored = self._state == ACTIVE
            if stored:
                self._instances[provider] = value
                if teardown is not None:
                    if self._teardowns is None:
                        self._teardowns = [teardown]
                    else:
                        self._teardowns.append(teardown)
            elif self._instances is not None and PyDict_GetItem(self._instances, provider) == <PyObject*>pending:
                del self._instances[provider]
        if pending.event is not None:
            pending.event.set()
        return stored

    cdef int _forget(self, provider, _Pending pending) except -1:
        """Withdraw a failed creation, so that waiters and later resolves try again."""
        with _lock:
            if self._instances is not None and PyDict_GetItem(self._instances, provider) == <PyObject*>pending:
                del self._instances[provider]
        if pending.event is not None:
            pending.event.set()
        return 0

    cdef object _start_async(self, _ScopedProvider provider, obj, _Pending pending):
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._forget(provider, pending)
            close = getattr(obj, "close", None)  # an un-awaited coroutine would warn
            if close is not None:
                close()
            raise ScopeError(no_loop_message(provider)) from None
        # Every awaiter gets its own shield, so one awaiter's cancellation cannot cancel the
        # creation that the others share.
        pending.task = loop.create_task(self._finish_async(provider, obj, pending))
        return _shield(pending.task)

    async def _finish_async(self, _ScopedProvider provider, obj, _Pending pending):
        cdef int kind = AWAIT
        value = obj
        try:
            while kind == AWAIT:
                if type(obj) is AsyncGeneratorType:
                    kind = AGEN
                    try:
                        value = await obj.__anext__()
                    except StopAsyncIteration:
                        raise RuntimeError(didnt_yield_message(provider)) from None
                elif provider._tears_down and _is_async_cm(type(obj)):
                    kind = ACM
                    value = await obj.__aenter__()
                else:
                    obj = await obj
                    value = _enter(provider, obj, &kind)
        except BaseException:
            self._forget(provider, pending)
            raise
        done = asyncio.get_running_loop().create_future()
        done.set_result(value)
        teardown = None if kind == NO_TEARDOWN else _teardown(kind, obj, provider, PyThread_get_thread_ident())
        if not self._store(provider, pending, done, teardown):
            if teardown is not None:
                failure = await _exit_async(kind, obj, None, provider)
                if failure is not None:
                    raise failure
            raise ScopeError(closed_during_creation_message(provider, self))
        return value

    # Early teardown of one provider ---------------------------------------------------------

    cdef _Teardown _detach(self, provider):
        """Drop ``provider``'s instance from this scope; return its teardown record, if any."""
        cdef PyObject* found
        cdef Py_ssize_t index
        cdef _Teardown teardown
        with _lock:
            if self._instances is None:
                return None
            found = PyDict_GetItem(self._instances, provider)
            if found is NULL or Py_TYPE(<object>found) is <PyTypeObject*>_Pending:
                return None
            del self._instances[provider]
            if self._teardowns:
                for index in range(len(self._teardowns) - 1, -1, -1):
                    teardown = <_Teardown>self._teardowns[index]
                    if teardown.provider is provider:
                        del self._teardowns[index]
                        return teardown
        return None

    # Closing --------------------------------------------------------------------------------

    cdef list _begin_close(self):
        """Mark the scope closing; return what it must tear down, or None if it was closing."""
        cdef list teardowns
        with _lock:
            if self._state >= CLOSING:
                return None
            self._state = CLOSING
            teardowns = self._teardowns
            self._teardowns = None
        return teardowns if teardowns is not None else _NOTHING

    cdef inline void _finish_close(self) noexcept:
        self._state = CLOSED
        self._instances = None

    def close(self, exc=None):
        """Tear down what the scope created, newest first, with ``exc`` thrown in.

        ``exc`` is the exception that ended the scope, if any: it is thrown into generators and
        passed to ``__exit__``, and not raised here; teardown errors are attached to it as notes.
        Without it, teardown errors are raised together in a ``BaseExceptionGroup``.
        Asynchronous resources cannot be closed here: the synchronous ones are torn down and a
        ``ScopeError`` names the rest. Closing a closed scope does nothing.
        """
        check_exception(exc)
        self._close(exc)

    cdef int _close(self, exc) except -1:
        """close() without the argument check, for __exit__."""
        cdef _Teardown teardown
        cdef Py_ssize_t index
        cdef list teardowns = self._begin_close()
        if teardowns is None:
            return 0
        cdef list errors = None
        cdef list async_left = None
        try:
            for index in range(len(teardowns) - 1, -1, -1):
                teardown = <_Teardown>teardowns[index]
                if teardown.kind >= AGEN:
                    if async_left is None:
                        async_left = []
                    async_left.append(teardown.provider)
                    continue
                error = _exit_sync(teardown.kind, teardown.obj, exc, teardown.provider)
                if error is not None:
                    if errors is None:
                        errors = []
                    errors.append((teardown.provider, error))
        finally:
            self._finish_close()
        if errors is not None or async_left is not None:
            report_teardown(self, exc, errors or (), async_left or ())
        return 0

    async def aclose(self, exc=None):
        """Tear down what the scope created, newest first, with ``exc`` thrown in.

        Like ``close()``, and it also closes asynchronous resources. Synchronous teardown of a
        resource created in a worker thread runs in a worker thread, off the event loop. Once
        begun, the teardown is shielded from cancellation: it finishes, then the cancellation is
        raised.
        """
        cdef _Teardown teardown
        cdef Py_ssize_t index
        cdef unsigned long me = PyThread_get_thread_ident()
        cdef bint needs_await = False
        check_exception(exc)
        cdef list teardowns = self._begin_close()
        if teardowns is None:
            return
        cancelled = None
        errors = []
        try:
            for teardown in teardowns:
                if teardown.kind >= AGEN or teardown.thread != me:
                    needs_await = True
                    break
            if needs_await:
                errors, cancelled = await shielded(_ateardown(teardowns, exc))
            else:
                for index in range(len(teardowns) - 1, -1, -1):
                    teardown = <_Teardown>teardowns[index]
                    error = _exit_sync(teardown.kind, teardown.obj, exc, teardown.provider)
                    if error is not None:
                        errors.append((teardown.provider, error))
        finally:
            self._finish_close()
        if cancelled is not None:
            report_teardown(self, cancelled, errors, ())
            raise cancelled
        if errors:
            report_teardown(self, exc, errors, ())

    def __del__(self):
        if self._state == ACTIVE and self._teardowns:
            warnings.warn(
                gc_open_message(self, [(<_Teardown>t).provider for t in self._teardowns]),
                ResourceWarning,
                source=self,
            )


cdef object _make(Provider inner, tuple args, dict kwargs):
    """Call the provider that makes an instance, and latch its async mode ourselves.

    ``Provider.__call__`` would take a generator for a coroutine on Python < 3.12 and keep the
    inner provider on dependency-injector's slow asynchronous path for good.
    """
    obj = inner._provide(args, kwargs)
    if inner._async_mode == ASYNC_MODE_UNDEFINED:
        inner._async_mode = ASYNC_MODE_ENABLED if _awaitable(obj) else ASYNC_MODE_DISABLED
    return obj


cdef inline bint _awaitable(obj):
    return PyCoro_CheckExact(obj) or isawaitable(obj)


cdef inline bint _is_async_cm(cls):
    return hasattr(cls, "__aenter__") and hasattr(cls, "__aexit__")


cdef object _enter(_ScopedProvider provider, obj, int* kind):
    """Enter what ``provider`` created: return the instance, and its teardown kind in ``kind``
    (NO_TEARDOWN, or AWAIT: finish asynchronously). The pure twin returns both in a tuple."""
    cdef PyObject* result = NULL
    if not provider._tears_down:
        kind[0] = AWAIT if _awaitable(obj) else NO_TEARDOWN
        return obj
    if PyGen_CheckExact(obj):
        if PyIter_Send(obj, None, &result) == PYGEN_NEXT:
            value = <object>result
            Py_XDECREF(result)
            kind[0] = GEN
            return value
        Py_XDECREF(result)
        raise RuntimeError(didnt_yield_message(provider))
    cls = type(obj)
    if cls is AsyncGeneratorType:
        kind[0] = AWAIT
        return obj
    if hasattr(cls, "__enter__") and hasattr(cls, "__exit__"):
        value = obj.__enter__()
        kind[0] = CM
        return value
    if _is_async_cm(cls) or _awaitable(obj):
        kind[0] = AWAIT
        return obj
    kind[0] = NO_TEARDOWN
    return obj


cdef inline bint _is_own(error, exc):
    """Whether ``error`` is the scope's exception coming back out of a teardown."""
    return exc is not None and (error is exc or (isinstance(error, RuntimeError) and error.__cause__ is exc))


cdef object _exit_sync(int kind, obj, exc, provider):
    """Run one synchronous teardown; return the error it raised, other than ``exc`` itself."""
    cdef PyObject* result = NULL
    try:
        if kind == GEN:
            if exc is None:
                if PyIter_Send(obj, None, &result) == PYGEN_RETURN:
                    Py_XDECREF(result)
                    return None
                Py_XDECREF(result)
            else:
                try:
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
        return None if _is_own(error, exc) else error


async def _exit_async(int kind, obj, exc, provider):
    """Run one asynchronous teardown; return the error it raised, other than ``exc`` itself."""
    try:
        if kind == AGEN:
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
        return None if _is_own(error, exc) else error


def _exit_sync_in_thread(int kind, obj, exc, provider):
    return _exit_sync(kind, obj, exc, provider)


async def _ateardown(list teardowns, exc):
    cdef _Teardown teardown
    cdef Py_ssize_t index
    cdef unsigned long me = PyThread_get_thread_ident()
    errors = []
    for index in range(len(teardowns) - 1, -1, -1):
        teardown = <_Teardown>teardowns[index]
        if teardown.kind >= AGEN:
            error = await _exit_async(teardown.kind, teardown.obj, exc, teardown.provider)
        elif teardown.thread != me:  # created in a worker thread: its teardown may block
            error = await to_thread.run_sync(
                _exit_sync_in_thread, teardown.kind, teardown.obj, exc, teardown.provider
            )
        else:
            error = _exit_sync(teardown.kind, teardown.obj, exc, teardown.provider)
        if error is not None:
            errors.append((teardown.provider, error))
    return errors


cdef inline Scope _named_scope(Scope scope, str name):
    while scope is not None and not (scope._name is name or scope._name == name):
        scope = scope._parent
    return scope


cdef inline bint _is_future_or_coroutine(obj):
    # dependency-injector's test for "this result is awaitable"
    return PyCoro_CheckExact(obj) or asyncio.isfuture(obj) or asyncio.iscoroutine(obj)


@cython.auto_pickle(False)
cdef class _ScopedProvider(Provider):
    """What the two scoped providers share: scope binding, lookup, copying, injections."""

    cdef object _inner  # the dependency-injector provider that makes an instance
    cdef object _packer  # ContextLocalResource's injection resolver, made on first use
    cdef str _scope_name
    cdef bint _tears_down  # the pure twin's class attribute

    def __call__(self, *args, **kwargs):
        """Resolve: the current scope's instance, created on first use.

        Keeps the two rules of ``Provider.__call__``: an overriding provider answers instead, and
        the first result latches async mode.
        """
        cdef Scope scope
        cdef PyObject* value
        if self._last_overriding is None:
            scope = _get_current()
            if self._scope_name is not None:
                scope = _named_scope(scope, self._scope_name)
            if scope is not None and scope._instances is not None:
                value = PyDict_GetItem(scope._instances, self)
                if value is not NULL and Py_TYPE(<object>value) is not <PyTypeObject*>_Pending:
                    if self._async_mode == ASYNC_MODE_DISABLED:
                        return <object>value
                    if self._async_mode == ASYNC_MODE_ENABLED and isinstance(<object>value, _Future):
                        return <object>value
            result = self._provide(args, kwargs)
        else:
            result = self._last_overriding(*args, **kwargs)
        if self._async_mode == ASYNC_MODE_DISABLED:
            return result
        if _is_future_or_coroutine(result):
            self._async_mode = ASYNC_MODE_ENABLED
            return result
        if self._async_mode == ASYNC_MODE_ENABLED:
            future = _Future()
            future.set_result(result)
            return future
        self._async_mode = ASYNC_MODE_DISABLED
        return result

    # Scope binding --------------------------------------------------------------------------

    def in_scope(self, name):
        """Bind to the innermost active scope called ``name`` instead of the innermost scope.

        Returns the provider, so it chains in a container body:
        ``connection = ContextLocalResource(open_connection).in_scope("websocket")``.
        """
        self._scope_name = check_scope_name(name)
        return self

    @property
    def scope_name(self):
        """The scope name bound with ``in_scope()``, or None for the innermost scope."""
        return self._scope_name

    cdef Scope _scope(self):
        cdef Scope scope = _get_current()
        cdef Scope named
        if self._scope_name is not None:
            named = _named_scope(scope, self._scope_name)
            if named is None:
                if scope is None:
                    raise ScopeError(no_scope_message(self))
                raise ScopeError(unknown_scope_message(self, self._scope_name, scope))
            return named
        if scope is None:
            raise ScopeError(no_scope_message(self))
        return scope

    cdef Scope _scope_or_none(self):
        cdef Scope scope = _get_current()
        if self._scope_name is not None:
            return _named_scope(scope, self._scope_name)
        return scope

    cpdef object _provide(self, tuple args, dict kwargs):
        cdef Scope scope = self._scope()
        cdef PyObject* value
        if scope._instances is not None:
            value = PyDict_GetItem(scope._instances, self)
            if value is not NULL and Py_TYPE(<object>value) is not <PyTypeObject*>_Pending:
                return <object>value
        return scope._get_or_create(self, args, kwargs)

    cdef object _instantiate(self, tuple args, dict kwargs):
        """Make a new instance; an awaitable stands for one that async injections hold up."""
        return _make(self._inner, args, kwargs)

    cdef object _current_value(self):
        cdef Scope scope = self._scope_or_none()
        cdef PyObject* value
        if scope is None or scope._instances is None:
            return _MISSING
        value = PyDict_GetItem(scope._instances, self)
        return _MISSING if value is NULL else <object>value

    # dependency-injector's provider protocol ------------------------------------------------

    def __deepcopy__(self, memo):
        if memo is None:
            memo = {}
        copied = memo.get(id(self))
        if copied is not None:
            return copied
        cdef _ScopedProvider duplicate = type(self)()
        memo[id(self)] = duplicate
        duplicate._inner = providers.deepcopy(self._inner, memo)
        duplicate._scope_name = self._scope_name
        self._copy_overridings(duplicate, memo)
        return duplicate

    def __str__(self):
        return providers.represent_provider(provider=self, provides=self.provides)

    def __repr__(self):
        return self.__str__()

    @property
    def related(self):
        """Providers this one depends on: injections and overriding providers."""
        yield from self._inner.related
        yield from self.overridden

    @property
    def provides(self):
        """What the provider calls to create an instance."""
        return self._inner.provides

    def set_provides(self, provides):
        self._inner.set_provides(provides)
        self._packer = None
        return self

    @property
    def args(self):
        """Positional argument injections."""
        return self._inner.args

    def add_args(self, *args):
        self._inner.add_args(*args)
        self._packer = None
        return self

    def set_args(self, *args):
        self._inner.set_args(*args)
        self._packer = None
        return self

    def clear_args(self):
        self._inner.clear_args()
        self._packer = None
        return self

    @property
    def kwargs(self):
        """Keyword argument injections."""
        return self._inner.kwargs

    def add_kwargs(self, **kwargs):
        self._inner.add_kwargs(**kwargs)
        self._packer = None
        return self

    def set_kwargs(self, **kwargs):
        self._inner.set_kwargs(**kwargs)
        self._packer = None
        return self

    def clear_kwargs(self):
        self._inner.clear_kwargs()
        self._packer = None
        return self


@cython.auto_pickle(False)
cdef class ContextLocalSingleton(_ScopedProvider):
    """One instance per scope, created like ``providers.Factory`` would; no teardown.

    A drop-in for ``dependency_injector.providers.ContextLocalSingleton`` whose instance lives in
    the current scope, so it is shared with threads and tasks of that scope and dropped when the
    scope ends.
    """

    def __init__(self, provides=None, *args, **kwargs):
        self._inner = providers.Factory(provides, *args, **kwargs)
        self._tears_down = False
        Provider.__init__(self)

    @property
    def attributes(self):
        """Attribute injections."""
        return self._inner.attributes

    def add_attributes(self, **kwargs):
        self._inner.add_attributes(**kwargs)
        return self

    def set_attributes(self, **kwargs):
        self._inner.set_attributes(**kwargs)
        return self

    def clear_attributes(self):
        self._inner.clear_attributes()
        return self

    def reset(self):
        """Drop the current scope's instance; the next resolve creates a new one."""
        cdef Scope scope = self._scope_or_none()
        if scope is not None:
            scope._detach(self)
        return providers.SingletonResetContext(self)

    def full_reset(self):
        """Reset this provider and every scoped or d-i singleton it depends on."""
        self.reset()
        for provider in self.traverse():
            if isinstance(provider, (ContextLocalSingleton, providers.BaseSingleton)):
                provider.reset()
        return providers.SingletonFullResetContext(self)


@cython.auto_pickle(False)
cdef class ContextLocalResource(_ScopedProvider):
    """One instance per scope, torn down when the scope ends.

    ``provides`` is a generator function, an async generator function, a callable returning a
    context manager or an async context manager, or a plain callable (no teardown). A drop-in for
    ``dependency_injector.providers.ContextLocalResource``; teardown is driven by the scope and
    sees the exception that ended it.
    """

    def __init__(self, provides=None, *args, **kwargs):
        self._inner = providers.Callable(provides, *args, **kwargs)
        self._tears_down = True
        Provider.__init__(self)

    cdef object _instantiate(self, tuple args, dict kwargs):
        # dependency-injector resolves the injections (into _pack) and we call ``provides``:
        # on Python < 3.12 dependency-injector takes a generator for a coroutine and would
        # run it as a task once an injection is asynchronous.
        if self._packer is None:
            self._packer = providers.Callable(_pack, *self._inner.args, **self._inner.kwargs)
        packed = _make(self._packer, args, kwargs)
        if _awaitable(packed):
            return _call_when_ready(self._inner.provides, packed)
        return self._inner.provides(*(<tuple>packed)[0], **(<tuple>packed)[1])

    @property
    def initialized(self):
        """Whether the current scope holds an instance."""
        return type(self._current_value()) is not _Pending

    def init(self):
        """Resolve the resource in the current scope (``await`` it if it is asynchronous)."""
        return self()

    def shutdown(self):
        """Tear down the current scope's instance now, as on success; the next resolve creates a
        new one. Returns an awaitable when the provider is asynchronous."""
        cdef Scope scope = self._scope_or_none()
        cdef _Teardown teardown = None if scope is None else scope._detach(self)
        if teardown is not None:
            if teardown.kind >= AGEN:
                return _raise_if_error(_exit_async(teardown.kind, teardown.obj, None, self))
            error = _exit_sync(teardown.kind, teardown.obj, None, self)
            if error is not None:
                raise error
        return DONE if self._async_mode == ASYNC_MODE_ENABLED else None


def _pack(*args, **kwargs):
    return args, kwargs


async def _call_when_ready(provides, packed):
    args, kwargs = await packed
    return provides(*args, **kwargs)


async def _raise_if_error(teardown):
    error = await teardown
    if error is not None:
        raise error


def current_scope():
    """The innermost active scope, or None."""
    return _get_current()


def scope(name=DEFAULT_SCOPE_NAME):
    """A new scope named ``name``, nested in the current one when entered.

    Use it as ``with scope():``, ``async with scope():``, or as a decorator (``@scope()``,
    ``@scope("job")`` or bare ``@scope``): each call of the decorated function runs in a fresh scope.
    """
    cdef Scope created
    if type(name) is str and name:
        created = Scope.__new__(Scope)
        created._name = name
        return created
    if callable(name):
        return scoped_function(Scope, DEFAULT_SCOPE_NAME, name)
    return Scope(name)
