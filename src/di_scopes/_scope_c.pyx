# cython: language_level=3, embedsignature=True, freethreading_compatible=True
"""Scopes and scoped providers, compiled: the twin of ``_scope_py.py``.

The structure follows the pure twin function by function; a comment names the counterpart where
the shape differs. The resolve path (ContextVar lookup, instance lookup, async-mode rules) and
the teardown loop run in C. Generators are driven with ``PyIter_Send``, so neither entering nor
leaving a generator resource raises ``StopIteration``.

Shared state (a scope's instance table and teardown list) is only touched inside
``critical_section`` blocks that call no Python code and allocate no tracked objects: with the GIL
they cannot be interleaved, and on a free-threaded build the critical section locks the scope.
The same holds for the other fields that threads share once set (a scope's state and token, an
entry's event, a resource's caller), so the module declares ``freethreading_compatible``.
"""

cimport cython
from cpython.contextvars cimport PyContextVar_Set, get_value
from cpython.exc cimport PyErr_Clear, PyErr_ExceptionMatches
from cpython.list cimport PyList_AsTuple, PyList_GET_ITEM, PyList_GET_SIZE, PyList_New, PyList_SET_ITEM
from cpython.long cimport PyLong_FromVoidPtr
from cpython.object cimport PyObject, PyObject_Call, PyObject_CallObject
from cpython.ref cimport Py_INCREF, Py_XDECREF
from cpython.tuple cimport PyTuple_New, PyTuple_SET_ITEM
from dependency_injector.providers cimport Callable, Factory, Injection, NamedInjection, Provider

import asyncio
import atexit
import sys
import threading
from functools import partial
import warnings
from contextvars import ContextVar
from inspect import isawaitable
from types import AsyncGeneratorType

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
    _Resumption,
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


cdef extern from "Python.h":
    int PyIter_Send(object iterator, object arg, PyObject** presult) except -1
    int PyContextVar_Reset(object var, object token)  # checked by hand
    int _reset_context_var "PyContextVar_Reset"(object var, object token) except -1
    bint PyGen_CheckExact(object obj)
    bint PyCoro_CheckExact(object obj)
    unsigned long PyThread_get_thread_ident()
    int PyObject_IsInstance(object obj, object cls)  # checked by hand
    int _context_var_get "PyContextVar_Get"(object var, PyObject* default, PyObject** value)
    PyObject* _dict_get "PyDict_GetItemWithError"(PyObject* mapping, PyObject* key)
    void Py_DECREF(object obj)


cdef enum:
    PYGEN_RETURN = 0
    PYGEN_NEXT = 1
    AGEN_ENDED = 2  # _agen_step: the async generator finished

cdef extern from "_scope_c.h":
    object _anext "__ds_anext"(object agen)
    int _agen_step "__ds_agen_step"(object step, PyObject** presult) except -1

cdef extern from "_scope_c.h":
    int __ds_ready_init() except -1
    object _ready "__ds_ready_new"(object value)
    object __ds_done_init(object get_running_loop, object attribute_error)
    object _done_future "__ds_done_new"(object value, object loop)
    bint _is_done_future "__ds_is_done_future"(object obj)
    PyObject* _done_value "__ds_done_value"(object obj)  # borrowed

__ds_ready_init()
cdef object _READY_NONE = _ready(None)  # the pure twin's DONE
DoneFuture = __ds_done_init(asyncio.get_running_loop, done_future_attribute_error)


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

# What Scope._get_or_create's guarded look-up found (the pure twin branches inside its lock).
cdef enum:
    FOUND_NOTHING
    FOUND_VALUE
    FOUND_TASK
    FOUND_RACE
    FOUND_CYCLE
    FOUND_THREAD_CYCLE
    FOUND_CROSSED_CYCLE
    FOUND_CLOSED

# Teardown kinds; the async ones sort last.  NO_TEARDOWN stands for the pure twin's None.
cdef enum:
    GEN = 0
    CM = 1
    AGEN = 2
    ACM = 3
    AWAIT = -1
    NO_TEARDOWN = -2


cdef object _current_scope = ContextVar("di_scopes.current_scope", default=None)
cdef object _is_finalizing = sys.is_finalizing  # kept here: module globals are gone at the end
atexit.register(warn_open_at_exit, _current_scope)
cdef object _creating = ContextVar("di_scopes.creating", default=None)  # see the pure twin
cdef object _Future = asyncio.Future
cdef object _get_running_loop = asyncio.get_running_loop
cdef object _shield = asyncio.shield
cdef object _CancelledError = asyncio.CancelledError
cdef object _is_provider = providers.is_provider
cdef object _is_delegated = providers.is_delegated
cdef object _CREATION_ENDED = CREATION_ENDED


# States of an entry.
cdef enum:
    PENDING = 0
    READY = 1


@cython.final
@cython.freelist(16)
@cython.auto_pickle(False)
cdef class _Entry:
    """One provider's place in a scope: its creation in progress, then its instance and teardown.

    The pure twin keeps a dict of instances (with _Pending markers for creations in progress) and
    a list of teardown tuples. Here a scope keeps one list of entries, scanned while it is short
    (cheaper than a dict look-up), and indexed by provider in a dict past _INDEX_FROM entries, so
    that a resolve costs the same whatever the number of instances in the scope.
    """

    cdef _ScopedProvider provider
    cdef int state  # PENDING, then READY
    cdef object value
    cdef int kind  # teardown kind, or NO_TEARDOWN
    cdef object obj  # what to tear down
    cdef unsigned long thread  # the thread that creates it
    cdef object event  # made by the first thread that waits for a pending creation
    cdef object task  # set when the creation is asynchronous
    cdef object creation  # its mark in _creating (see the pure twin)
    cdef object ending  # a creation the scope's close found pending: the exception it closed with
    cdef bint discarded  # it finished after the scope began closing, and was torn down


cdef list _NOTHING = []  # what a scope with nothing to tear down tears down; never modified


# Past this many entries a scope indexes them by provider (see _Entry). The index is keyed by the
# provider's address, an int made once per provider (_ScopedProvider._key), so that a look-up
# under the scope's lock runs no Python code (a provider subclass may define __hash__ or __eq__)
# and allocates nothing; the provider outlives its entries, so the address stays its own. The
# dict itself is made before the lock is taken (_index_for): making a tracked object may start
# the garbage collector.
cdef Py_ssize_t _INDEX_FROM = 8


def _set_index_from(Py_ssize_t count):
    """Index the entries of scopes with more than ``count`` of them (for the tests, which run
    the differential test with every scope indexed); return the threshold it replaces."""
    global _INDEX_FROM
    previous = _INDEX_FROM
    _INDEX_FROM = count
    return previous


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline PyObject* _entry_of(Scope scope, _ScopedProvider provider) noexcept:
    """``provider``'s entry in ``scope`` (a borrowed reference), or NULL; under the scope's lock,
    its entries set."""
    cdef PyObject* entries
    cdef Py_ssize_t index
    if scope._index is not None:
        return _dict_get(<PyObject*>scope._index, <PyObject*>provider._key)  # an int key: no error
    entries = <PyObject*>scope._entries
    for index in range(PyList_GET_SIZE(<object>entries)):
        if (<_Entry>PyList_GET_ITEM(<object>entries, index)).provider is provider:
            return PyList_GET_ITEM(<object>entries, index)
    return NULL


cdef inline _Entry _find(Scope scope, _ScopedProvider provider):
    """_entry_of as an entry, or None."""
    cdef PyObject* found = _entry_of(scope, provider)
    return None if found is NULL else <_Entry>found


cdef inline dict _index_for(Scope scope):
    """An empty dict when ``scope`` may need its index made by the next _add, else None; read
    without the lock (a stale answer only delays the index to a later _add)."""
    cdef list entries = scope._entries
    if scope._index is None and entries is not None and len(entries) >= _INDEX_FROM:
        return {}
    return None


cdef inline int _add(Scope scope, _Entry entry, dict fresh) except -1:
    """Append a new entry (its provider has none in ``scope``); under the scope's lock.
    ``fresh`` is _index_for's dict, made into the index when the scope grows past _INDEX_FROM."""
    cdef list entries = scope._entries
    cdef Py_ssize_t index
    cdef _Entry each
    entries.append(entry)
    if scope._index is not None:
        scope._index[entry.provider._key] = entry
    elif fresh is not None and len(entries) > _INDEX_FROM:
        for index in range(len(entries)):
            each = <_Entry>entries[index]
            fresh[each.provider._key] = each
        scope._index = fresh
    return 0


@cython.boundscheck(False)
@cython.wraparound(False)
cdef inline void _unlink(list entries, _Entry entry) noexcept:
    """Take ``entry`` out of the list, searched from its end, where recent creations are; the
    caller holds a reference to it."""
    cdef Py_ssize_t index
    for index in range(len(entries) - 1, -1, -1):
        if entries[index] is entry:
            del entries[index]
            return


cdef inline int _remove(Scope scope, _Entry entry) except -1:
    """Take ``entry`` out of ``scope``, list and index; under the scope's lock."""
    _unlink(scope._entries, entry)
    if scope._index is not None:
        del scope._index[entry.provider._key]
    return 0


cdef inline bint _is_creating(creating, _Entry entry) noexcept:
    """Whether ``entry`` is among the creations in progress ``creating`` (see the pure twin)."""
    while creating is not None:
        if creating is entry.creation:
            return True
        creating = (<tuple>creating)[0]
    return False


cdef dict _waiting = {}  # thread id -> the _Entry it waits for (see the pure twin)
# Guards _waiting. A scope's critical section guards its own entries only, and a wait-for cycle can
# run through the entries of several scopes: on a free-threaded build, the check that a thread's
# wait closes no cycle and the record of that wait must be one step for every scope, as the pure
# twin's one lock makes them. Taken inside a scope's critical section, never the other way round.
cdef cython.pymutex _waiting_lock


cdef bint _waits_for(_Entry entry, unsigned long me) except -1:
    """Whether the creator of ``entry`` waits, directly or through other waiters, for ``me``."""
    cdef unsigned long owner = entry.thread
    cdef Py_ssize_t _hop
    cdef _Entry blocked
    for _hop in range(len(_waiting)):
        blocked = _waiting.get(owner)
        if blocked is None:
            return False
        owner = blocked.thread
        if owner == me:
            return True
    return False


cdef inline Scope _get_current():
    return <Scope>get_value(_current_scope)


@cython.final
@cython.auto_pickle(False)
cdef class Scope:  # no freelist: a reused object keeps its "finalized" mark, and __del__ would not run
    """A unit of work that owns one instance of each scoped provider resolved inside it.

    Enter it with ``with`` or ``async with`` (it nests in the current scope), or decorate a
    function with it: each call then runs in a fresh scope of the same name. When it ends, what
    it created is torn down in reverse creation order, with the ending exception thrown in.
    A scope is entered and exited once, innermost first; it cannot be copied, pickled or
    subclassed.
    """

    cdef int _state
    cdef str _name
    cdef bint _exclusive
    cdef Scope _parent
    cdef list _entries  # of _Entry: ready ones in creation order; the pure twin's two tables
    cdef dict _index  # provider -> its _Entry, past _INDEX_FROM entries; None before
    cdef object _token
    cdef dict _values  # set_value(): key -> value

    def __init__(self, name=DEFAULT_SCOPE_NAME, *, exclusive=False):
        # A plain str and a bool are taken as they are; anything else goes through the checks
        # the pure twin makes (a str subclass gives its value, the rest is refused).
        self._name = name if type(name) is str and name else check_scope_name(name)
        self._exclusive = exclusive if exclusive is True or exclusive is False else check_exclusive(exclusive)

    @property
    def name(self):
        """The scope's name; providers bound with ``.in_scope(name)`` resolve in it."""
        return self._name

    @property
    def exclusive(self):
        """Whether only providers bound to this name with ``in_scope()`` live here; the others
        resolve in the enclosing scope."""
        return self._exclusive

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

    def __copy__(self):
        raise TypeError(copied_scope_message(self))

    def __deepcopy__(self, memo):
        raise TypeError(copied_scope_message(self))

    def __reduce_ex__(self, protocol):
        raise TypeError(copied_scope_message(self))

    # Entering and leaving -------------------------------------------------------------------

    cdef int _activate(self) except -1:
        if self._state != NEW:
            raise ScopeError(reentered_message(self))
        parent = _get_current()
        token = PyContextVar_Set(_current_scope, self)
        with cython.critical_section(self):  # threads entering it at once must not race on these
            self._parent = parent
            self._token = token
            self._state = ACTIVE
        return 0

    cdef int _deactivate(self) except -1:
        with cython.critical_section(self):
            token = self._token
            self._token = None
        if PyContextVar_Reset(_current_scope, token) < 0:
            if not PyErr_ExceptionMatches(ValueError):
                return -1
            PyErr_Clear()  # left in another context than the one it was entered in
            if _get_current() is self:
                PyContextVar_Set(_current_scope, self._parent)
        return 0

    cdef list _check_exit(self, exc, str method):
        """Refuse an exit that cannot be right; return the scopes still open inside this one
        (innermost first) when it is exited before them, else None."""
        if exc is not None:
            check_exception(exc, method)
        if self._token is None:
            raise ScopeError(not_entered_message(self) if self._state == NEW else exited_twice_message(self))
        cdef Scope current = _get_current()
        if current is self:
            return None
        cdef list inner = []
        while current is not None and current is not self:
            inner.append(current)
            current = current._parent
        return inner if current is self else None  # else: left in another context

    cdef object _exit_out_of_order(self, list inner):
        """Close the scopes left open inside this one; return the error to raise."""
        cdef Scope scope
        error = ScopeError(exited_out_of_order_message(self, inner))
        for scope in inner:
            scope._token = None  # its own exit, if it comes, is a second one
            scope._close(error)
        return error

    def __enter__(self):
        self._activate()
        return self

    def __exit__(self, exc_type, exc, tb):
        self._exit(exc)

    cdef _exit(self, exc):
        """What ``__exit__`` does, for ``call_in_scope``."""
        cdef list inner = self._check_exit(exc, "__exit__()")
        if inner is not None:
            error = self._exit_out_of_order(inner)
            try:
                self._close(error)
            finally:
                self._deactivate()
            raise error
        try:
            self._close(exc)
        finally:
            self._deactivate()

    def __aenter__(self):
        # Not a coroutine: entering never suspends (the pure twin returns a Ready too).
        self._activate()
        return _ready(self)

    def __aexit__(self, exc_type, exc, tb):
        # Not a coroutine: a teardown that does not suspend is done before this returns.
        cdef list inner = self._check_exit(exc, "__aexit__()")
        if inner is not None:
            return self._aexit_out_of_order(inner)
        cdef list entries = self._begin_close(exc)
        if entries is not None and _needs_await(entries):
            return self._teardown_eagerly(entries, exc, True)
        try:
            if entries is not None:
                self._teardown(entries, exc)
        finally:
            self._deactivate()
        return _READY_NONE

    async def _aexit_out_of_order(self, list inner):
        cdef Scope scope
        error = ScopeError(exited_out_of_order_message(self, inner))
        for scope in inner:
            scope._token = None  # its own exit, if it comes, is a second one
            await scope.aclose(error)
        try:
            await self.aclose(error)
        finally:
            self._deactivate()
        raise error

    def __call__(self, func):
        """Decorate a sync or async function: each call runs in a fresh scope of this name."""
        return scoped_function(self._fresh, func)

    def _fresh(self):
        """A new scope with this one's name and exclusivity (its name is checked already)."""
        cdef Scope scope = Scope.__new__(Scope)
        scope._name = self._name
        scope._exclusive = self._exclusive
        return scope

    # Values ---------------------------------------------------------------------------------

    def set_value(self, key, value):
        """Put ``value`` into the scope under ``key``; ``ScopeValue(key)`` injects it.

        Nested scopes see the values of the scopes around them; a nested scope's own value for a
        key hides the outer one. Set values before entering the scope or while it is active.
        """
        if self._state >= CLOSING:
            raise ScopeError(closed_value_message(self, key))
        if self._values is None:
            self._values = {}
        self._values[key] = value

    def get_value(self, key, default=None):
        """The value set under ``key`` in this scope or the nearest enclosing one, else ``default``."""
        value = _find_value(self, key)
        return default if value is _NO_VALUE else value

    # Creating -------------------------------------------------------------------------------

    cdef object _get_or_create(self, _ScopedProvider provider, tuple args, dict kwargs):
        cdef unsigned long me = PyThread_get_thread_ident()
        cdef _Entry entry
        cdef int outcome
        cdef int kind
        cdef _Entry mine = _Entry.__new__(_Entry)  # allocated before the guarded blocks
        mine.provider = provider
        mine.thread = me
        if self._entries is None:
            entries = []
            with cython.critical_section(self):
                if self._entries is None:
                    self._entries = entries
        event = None  # made outside the guarded block (it runs Python code), installed inside
        fresh = _index_for(self)  # the same: the index, should this creation need one
        creating = get_value(_creating)
        while True:
            value = None
            with cython.critical_section(self):
                if self._state != ACTIVE:
                    outcome = FOUND_CLOSED
                else:
                    entry = _find(self, provider)
                    if entry is None:
                        _add(self, mine, fresh)
                        outcome = FOUND_NOTHING
                    elif entry.state == READY:
                        value = entry.value
                        outcome = FOUND_VALUE
                    elif entry.task is not None:
                        value = entry.task
                        outcome = FOUND_TASK
                    elif entry.thread == me:
                        outcome = FOUND_CYCLE
                    elif _is_creating(creating, entry):
                        outcome = FOUND_THREAD_CYCLE
                    else:
                        with _waiting_lock:
                            if _waits_for(entry, me):
                                outcome = FOUND_CROSSED_CYCLE
                            else:
                                # Installed in the block where _store and _forget publish the end
                                # of the creation: it cannot end between this check and the wait
                                # unnoticed.
                                if entry.event is None:
                                    entry.event = event
                                value = entry.event
                                if value is not None:
                                    _waiting[me] = entry
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
            if outcome == FOUND_THREAD_CYCLE:
                raise ScopeError(thread_cycle_message(provider))
            if outcome == FOUND_CROSSED_CYCLE:
                raise ScopeError(crossed_cycle_message(provider))
            if value is None:  # no event to wait on yet: make one, and look again
                event = threading.Event()
                continue
            try:
                value.wait()
            finally:
                with _waiting_lock:
                    del _waiting[me]

        mine.creation = mark = (creating,)
        token = PyContextVar_Set(_creating, mark)
        try:
            obj = provider._instantiate(args, kwargs)
            value = _enter(provider, obj, &kind)
        except BaseException:
            self._forget(mine)
            raise
        finally:
            _reset_context_var(_creating, token)
        if kind == AWAIT:
            return self._start_async(provider, obj, mine)
        mine.kind = kind
        mine.value = value
        if kind != NO_TEARDOWN:
            mine.obj = obj
        if not self._store(mine):
            error = ScopeError(closed_during_creation_message(provider, self))
            if kind != NO_TEARDOWN:
                # Not part of the scope's work: rolled back, with what ended the scope.
                failure = _exit_sync(kind, obj, error if mine.ending is None else mine.ending, provider)
                if failure is not None:
                    raise failure
            raise error
        return value

    cdef bint _store(self, _Entry entry) except -1:
        """Publish a created instance; False when the scope began closing meanwhile."""
        cdef bint stored
        with cython.critical_section(self):
            stored = self._state == ACTIVE
            if stored:
                entry.state = READY
                if self._entries[len(self._entries) - 1] is not entry:
                    _unlink(self._entries, entry)  # ready entries keep their creation order
                    self._entries.append(entry)
            # In the block where waiters install their event: none can be missed.
            event = entry.event
            entry.event = _CREATION_ENDED
        if event is not None:
            event.set()
        return stored

    cdef int _forget(self, _Entry entry) except -1:
        """Withdraw a failed creation, so that waiters and later resolves try again."""
        with cython.critical_section(self):
            if self._state == ACTIVE:
                _remove(self, entry)
            event = entry.event
            entry.event = _CREATION_ENDED
        if event is not None:
            event.set()
        return 0

    cdef object _start_async(self, _ScopedProvider provider, obj, _Entry entry):
        cdef int status
        cdef PyObject* result = NULL
        try:
            _get_running_loop()  # none is needed yet, unless it suspends: fail early and alike
        except RuntimeError:
            self._forget(entry)
            close = getattr(obj, "close", None)  # an un-awaited coroutine would warn
            if close is not None:
                close()
            raise ScopeError(no_loop_message(provider)) from None
        step = None
        if type(obj) is AsyncGeneratorType:
            # Step the setup here; the pure twin does it in _finish_async, driven by ``start``.
            try:
                step = _anext(obj)
                status = PyIter_Send(step, None, &result)
            except StopAsyncIteration:
                self._forget(entry)
                raise RuntimeError(didnt_yield_message(provider)) from None
            except BaseException:
                self._forget(entry)
                raise
            value = <object>result
            Py_XDECREF(result)
            if status == PYGEN_RETURN:
                return self._stored_async(provider, obj, entry, AGEN, value)
            creation = self._finish_async(provider, obj, entry, step, value)
        else:
            creation = self._finish_async(provider, obj, entry, None, None)
        finished, value = start(creation)
        if finished:
            return entry.value  # the DoneFuture it was stored as
        # It suspended: it goes on in a task, and every awaiter gets its own shield, so one
        # awaiter's cancellation cannot cancel the creation that the others share.
        entry.task = task = resume_in_task(creation, value)
        task.add_done_callback(partial(_retrieve_discarded, entry))
        return _shield(task)

    async def _finish_async(self, _ScopedProvider provider, obj, _Entry entry, step, yielded):
        """Finish creating ``obj``; ``step`` is an async generator's setup that _start_async
        began and left suspended on ``yielded``."""
        cdef int kind = AWAIT
        value = obj
        try:
            if step is not None:
                kind = AGEN
                try:
                    value = await _Resumption(step, yielded)
                except StopAsyncIteration:
                    raise RuntimeError(didnt_yield_message(provider)) from None
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
            self._forget(entry)
            raise
        stored = self._stored_async(provider, obj, entry, kind, value)
        if not _is_done_future(stored):
            await stored  # the scope began closing meanwhile: this tears down and raises
        return value

    cdef object _stored_async(self, _ScopedProvider provider, obj, _Entry entry, int kind, value):
        """Publish an asynchronously created instance as a DoneFuture; return it, or, when the
        scope began closing meanwhile, a coroutine that tears it down and raises."""
        done = _done_future(value, _get_running_loop())
        entry.kind = kind
        entry.value = done
        entry.thread = PyThread_get_thread_ident()
        if kind != NO_TEARDOWN:
            entry.obj = obj
        if self._store(entry):
            return done
        return _discard_async(self, provider, kind, obj, entry)

    # Early teardown of one provider ---------------------------------------------------------

    cdef _Entry _detach(self, _ScopedProvider provider):
        """Drop ``provider``'s instance from this scope; return its entry, if it had one."""
        cdef _Entry entry = None
        with cython.critical_section(self):
            if self._state == ACTIVE and self._entries is not None:
                entry = _find(self, provider)
                if entry is not None:
                    if entry.state == READY:
                        _remove(self, entry)
                    else:
                        entry = None
        return entry

    # Closing --------------------------------------------------------------------------------

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef list _begin_close(self, exc):
        """Mark the scope closing; return its entries, or None if it was closing already. A
        creation still pending keeps ``exc``, to throw into its teardown when it ends.

        From here on the entry list only shrinks to nothing in _finish_close: creations that end
        later leave their pending entries alone. Nothing is handed out any more (_ready_value):
        a resolve during teardown, from the request's own tasks too, raises ScopeError.
        """
        cdef list entries = None
        cdef Py_ssize_t index
        cdef _Entry entry
        with cython.critical_section(self):
            if self._state >= CLOSING:
                return None
            self._state = CLOSING
            entries = self._entries
            if entries is not None and exc is not None:
                for index in range(len(entries)):
                    entry = <_Entry>entries[index]
                    if entry.state != READY:
                        entry.ending = exc
        return entries if entries is not None else _NOTHING

    cdef inline void _finish_close(self) noexcept:
        with cython.critical_section(self):
            self._state = CLOSED
            entries = self._entries  # no-cython-lint: released after the guarded block (finalizers)
            index = self._index  # no-cython-lint: the same
            self._entries = None
            self._index = None

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
        cdef list entries = self._begin_close(exc)
        if entries is _NOTHING:  # it made nothing
            self._finish_close()
        elif entries is not None:
            self._teardown(entries, exc)
        return 0

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int _teardown(self, list entries, exc) except -1:
        cdef _Entry entry
        cdef Py_ssize_t index
        cdef list errors = None
        cdef list async_left = None
        try:
            for index in range(len(entries) - 1, -1, -1):
                entry = <_Entry>entries[index]
                if entry.state != READY or entry.kind == NO_TEARDOWN:
                    continue
                if entry.kind >= AGEN:
                    if async_left is None:
                        async_left = []
                    async_left.append(entry.provider)
                    continue
                error = _exit_sync(entry.kind, entry.obj, exc, entry.provider)
                if error is not None:
                    if errors is None:
                        errors = []
                    errors.append((entry.provider, error))
        finally:
            self._finish_close()
        if errors is not None or async_left is not None:
            report_teardown(self, exc, errors or (), async_left or ())
        return 0

    def aclose(self, exc=None):
        """Tear down what the scope created, newest first, with ``exc`` thrown in; await it.

        Like ``close()``, and it also closes asynchronous resources. Synchronous teardown of a
        resource created in a worker thread runs in a worker thread, off the event loop. Once
        begun, the teardown is shielded from cancellation: it finishes, then the cancellation is
        raised. What needs no awaiting is done before the awaitable is returned.
        """
        check_exception(exc)
        cdef list entries = self._begin_close(exc)
        if entries is None:
            return _READY_NONE
        if not _needs_await(entries):
            self._teardown(entries, exc)
            return _READY_NONE
        return self._teardown_eagerly(entries, exc, False)

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef object _teardown_eagerly(self, list entries, exc, bint deactivate):
        """Tear down, newest first, in the caller's task while nothing suspends.

        Async generators are stepped here with PyIter_Send; at the first teardown that suspends
        (or needs a worker thread, or is an async context manager) the rest goes on in
        _teardown_awaiting, shielded. Returns an awaitable: a _Ready when everything was done
        here. The pure twin runs the same steps inside _teardown_async, driven by ``start``.
        """
        cdef _Entry entry
        cdef Py_ssize_t index
        cdef int status
        cdef PyObject* result = NULL
        cdef unsigned long me = PyThread_get_thread_ident()
        cdef list errors = []
        step = None
        yielded = None
        traceback = None if exc is None else exc.__traceback__
        index = len(entries) - 1
        while index >= 0:
            entry = <_Entry>entries[index]
            if entry.state != READY or entry.kind == NO_TEARDOWN:
                index -= 1
                continue
            if entry.kind == AGEN:
                error = None
                try:
                    step = _anext(entry.obj) if exc is None else entry.obj.athrow(exc)
                    status = _agen_step(step, &result)
                except BaseException as failure:
                    step = None
                    error = _step_error(failure, exc)
                else:
                    if status == AGEN_ENDED:
                        step = None
                    else:
                        yielded = <object>result
                        Py_XDECREF(result)
                        if status == PYGEN_RETURN:
                            yielded = _YIELDED_AGAIN  # _teardown_awaiting closes it and reports
                        break  # it suspended on ``yielded``: the rest is awaited
                if exc is not None:
                    exc.__traceback__ = traceback  # whatever the teardown did with it: without its frames
                if error is not None:
                    errors.append((entry.provider, error))
                index -= 1
                continue
            if entry.kind == ACM or entry.thread != me:
                break
            error = _exit_sync(entry.kind, entry.obj, exc, entry.provider)
            if error is not None:
                errors.append((entry.provider, error))
            index -= 1
        if index >= 0:
            rest = self._teardown_awaiting(entries, index, exc, traceback, errors, step, yielded)
            return self._deactivating(rest) if deactivate else rest
        try:
            self._finish_close()
            if errors:
                report_teardown(self, exc, errors, ())
        finally:
            if deactivate:
                self._deactivate()
        return _READY_NONE

    async def _deactivating(self, teardown):
        try:
            await teardown
        finally:
            self._deactivate()

    async def _teardown_awaiting(self, list entries, Py_ssize_t index, exc, traceback, list errors, step, yielded):
        """The rest of a teardown that suspended: ``step``, the teardown of ``entries[index]``
        that _teardown_eagerly began (suspended on ``yielded``), then the older entries; all in
        the awaiting task, shielded from its cancellation (see _Shielded). ``traceback`` is
        ``exc``'s from before the teardown began."""
        cdef _Entry entry = <_Entry>entries[index] if step is not None else None
        cdef _Shielded shielded
        cancelled = None
        try:
            if entry is not None:
                if yielded is not _YIELDED_AGAIN:
                    shielded = _Shielded.__new__(_Shielded, step, yielded)
                    await shielded
                    cancelled = shielded.cancelled
                    if shielded.error is None:
                        yielded = _YIELDED_AGAIN  # a value instead of the end: closed below
                    else:
                        error = _step_error(shielded.error, exc)
                        if error is not None:
                            errors.append((entry.provider, error))
                    if exc is not None:
                        exc.__traceback__ = traceback  # whatever the teardown did with it: without its frames
                if yielded is _YIELDED_AGAIN:
                    shielded = _Shielded.__new__(_Shielded, _close_again(entry.obj, entry.provider), None)
                    if not shielded.start():
                        await shielded
                        cancelled = cancelled or shielded.cancelled
                    errors.append((entry.provider, shielded.value))
                index -= 1
            if index >= 0:
                shielded = _Shielded.__new__(_Shielded, _teardown_async(entries, index, exc, errors), None)
                if not shielded.start():
                    await shielded
                    cancelled = cancelled or shielded.cancelled
                if shielded.error is not None:
                    raise shielded.error
        finally:
            self._finish_close()
        if cancelled is not None:
            report_teardown(self, cancelled, errors, ())
            raise cancelled
        if errors:
            report_teardown(self, exc, errors, ())

    def _live_resources(self):
        """The providers whose instances an active scope would tear down."""
        cdef _Entry entry
        if self._state != ACTIVE or not self._entries:
            return []
        return [entry.provider for entry in self._entries if entry.state == READY and entry.kind != NO_TEARDOWN]

    def __del__(self):
        # A finalizer (tp_finalize), not __dealloc__: the collector runs it before it clears a
        # reference cycle, so a scope collected in a cycle still has its entries to name.
        if self._state != ACTIVE or not self._entries:
            return  # never entered, or ended: nothing of it left open
        if _is_finalizing():  # said at exit, by warn_open_at_exit, while warnings still work
            return
        live = self._live_resources()
        if live:
            warnings.warn(gc_open_message(self._name, live), ResourceWarning)


cdef bint _needs_await(list entries):
    """Whether a teardown must be awaited: async resources, or sync ones made in other threads."""
    cdef unsigned long me = PyThread_get_thread_ident()
    cdef _Entry entry
    for entry in entries:
        if entry.state == READY and entry.kind != NO_TEARDOWN and (entry.kind >= AGEN or entry.thread != me):
            return True
    return False


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


cdef bint _in_event_loop() except -1:
    """Whether an event loop runs in this thread: an object that is both a context manager and
    an async one is entered the way the code that resolves it runs (the pure twin's twin)."""
    try:
        _get_running_loop()
    except RuntimeError:
        return False
    return True


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
    if hasattr(cls, "__enter__") and hasattr(cls, "__exit__") and not (_is_async_cm(cls) and _in_event_loop()):
        value = obj.__enter__()
        kind[0] = CM
        return value
    if _is_async_cm(cls) or _awaitable(obj):
        kind[0] = AWAIT
        return obj
    kind[0] = NO_TEARDOWN
    return obj


cdef inline object _step_error(error, exc):
    """What an async generator's teardown step raised, as a teardown error to report: None when
    it finished (StopAsyncIteration) or gave the scope's exception back."""
    if isinstance(error, StopAsyncIteration) or _is_own(error, exc):
        return None
    return error


cdef inline bint _is_own(error, exc):
    """Whether ``error`` is the scope's exception coming back out of a teardown (its traceback
    then gets back what it was; see the pure twin)."""
    return exc is not None and (error is exc or (isinstance(error, RuntimeError) and error.__cause__ is exc))


cdef object _exit_sync(int kind, obj, exc, provider):
    """Run one synchronous teardown; return the error it raised, other than ``exc`` itself."""
    cdef PyObject* result = NULL
    traceback = None if exc is None else exc.__traceback__
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
        if not _is_own(error, exc):
            return error
        return None
    finally:
        if exc is not None:
            exc.__traceback__ = traceback  # whatever the teardown did with it: without its frames


async def _exit_async(int kind, obj, exc, provider):
    """Run one asynchronous teardown; return the error it raised, other than ``exc`` itself."""
    traceback = None if exc is None else exc.__traceback__
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
        if not _is_own(error, exc):
            return error
        return None
    finally:
        if exc is not None:
            exc.__traceback__ = traceback  # whatever the teardown did with it: without its frames


async def _discard_async(Scope scope, provider, int kind, obj, _Entry entry):
    """Tear down an instance that finished creating after ``scope`` began closing (not part of
    its work: rolled back, with what ended the scope); raise the ScopeError that says so."""
    error = ScopeError(closed_during_creation_message(provider, scope))
    entry.discarded = True  # its task's error needs no awaiter (_retrieve_discarded)
    if kind != NO_TEARDOWN:
        ending = error if entry.ending is None else entry.ending
        if kind >= AGEN:
            failure = await _exit_async(kind, obj, ending, provider)
        else:  # a generator or context manager whose arguments were awaited
            failure = _exit_sync(kind, obj, ending, provider)
        if failure is not None:
            raise failure
    raise error


def _retrieve_discarded(_Entry entry, task):
    """A creation task's done-callback: the error of a creation discarded because its scope
    closed meanwhile is nobody's to await (the pure twin's _retrieve_discarded)."""
    if entry.discarded and not task.cancelled():
        task.exception()


async def _close_again(obj, provider):
    """An async generator's teardown step yielded a value instead of stopping: close it; the
    error to report."""
    try:
        await obj.aclose()
    except BaseException as error:
        return error
    return RuntimeError(didnt_stop_message(provider))


@cython.final
@cython.freelist(4)
@cython.auto_pickle(False)
cdef class _Shielded:
    """Finishes ``it``, an iterator suspended on ``yielded``, in the awaiting task, shielded from
    the task's cancellation: the compiled counterpart of _scope_py._Shielding (same steps), and
    awaiting it never raises: ``value``, ``error`` (what ``it`` raised, StopIteration aside) and
    ``cancelled`` (the task's cancellation, held back) say how it ended."""

    cdef object it
    cdef object waiting  # what ``it`` waits on
    cdef bint handed  # whether ``waiting`` was handed to the task yet
    cdef bint finished
    cdef readonly object value
    cdef readonly object error
    cdef readonly object cancelled

    def __cinit__(self, it, yielded):
        self.it = it
        self.waiting = yielded

    cdef bint start(self) except -1:  # no-cython-lint: a method, not the imported start()
        """Run ``it``, a coroutine not started yet, until it first suspends; whether it finished
        (then nothing is left to await). What it suspended on is handed to the task by the first
        step of the await (as _scope_py.shielded hands it to _Shielding), not sent into ``it``
        again: trio's traps, and asyncio's futures, need their outcome, not None."""
        self.handed = True
        self._resume(None, None)
        self.handed = False
        return self.finished

    def __await__(self):
        return self

    def __iter__(self):
        return self

    # Each of __next__, send and throw ends with its own "raise StopIteration": raised directly
    # in __next__, Cython ends the iteration without creating the exception.

    def __next__(self):
        waiting = self._resume(None, None)
        if self.finished:
            raise StopIteration
        return waiting

    def send(self, value):
        waiting = self._resume(value, None)
        if self.finished:
            raise StopIteration
        return waiting

    def throw(self, typ, val=None, tb=None):
        if val is None:
            val = typ() if isinstance(typ, type) else typ
        elif not isinstance(val, BaseException):
            val = typ(val)
        if tb is not None:
            val = val.with_traceback(tb)
        waiting = self._resume(None, val)
        if self.finished:
            raise StopIteration
        return waiting

    def close(self):
        close = getattr(self.it, "close", None)
        if close is not None:
            close()

    cdef object _resume(self, sent, thrown):
        cdef PyObject* result = NULL
        cdef int status
        if not self.handed:
            self.handed = True
            if thrown is None:
                return self._hand(self.waiting)
        waiting = self.waiting
        if thrown is not None and isinstance(thrown, _CancelledError):
            if not (_is_blocking(waiting) and waiting.cancelled()):
                # The task's cancellation: kept; ``it`` reads its future's outcome itself.
                self.cancelled = thrown
                thrown = None
                sent = None
        try:
            if thrown is None:
                status = PyIter_Send(self.it, sent, &result)
                value = <object>result
                Py_XDECREF(result)
                if status == PYGEN_RETURN:
                    self.value = value
                    self.finished = True
                    return None  # the end (StopIteration)
            else:
                value = self.it.throw(thrown)
        except StopIteration as stop:
            self.value = stop.value
            self.finished = True
            return None
        except BaseException as error:
            self.error = error
            self.finished = True
            return None
        self.waiting = value
        return self._hand(value)

    cdef object _hand(self, waiting):
        if _is_blocking(waiting):
            return _Uncancellable.__new__(_Uncancellable, waiting)
        return waiting


cdef inline bint _is_blocking(waiting) except -1:
    """Whether ``waiting`` is a future the task is to wait on (asyncio.isfuture, blocking)."""
    if waiting is None:
        return False
    blocking = getattr(waiting, "_asyncio_future_blocking", None)
    return blocking is not None and bool(blocking)


@cython.final
@cython.freelist(4)
@cython.auto_pickle(False)
cdef class _Uncancellable:
    """A future as the awaiting task sees it, except that the task's ``cancel()`` does not
    reach it (the compiled counterpart of _scope_py._Uncancellable)."""

    cdef object _future
    cdef public object _asyncio_future_blocking

    def __cinit__(self, future):
        self._future = future
        self._asyncio_future_blocking = True

    def get_loop(self):
        return self._future.get_loop()

    def add_done_callback(self, fn, *, context=None):
        self._future.add_done_callback(fn, context=context)

    def remove_done_callback(self, fn):
        return self._future.remove_done_callback(fn)

    def done(self):
        return self._future.done()

    def cancel(self, msg=None):
        return False  # the task then throws CancelledError in once the future is done

    def __repr__(self):
        return f"<shielded {self._future!r}>"


cdef object _YIELDED_AGAIN = object()  # a teardown step that yielded a value instead of stopping


def _exit_sync_in_thread(int kind, obj, exc, provider):
    return _exit_sync(kind, obj, exc, provider)


async def _teardown_async(list entries, Py_ssize_t last, exc, list errors):
    """Tear down ``entries[last::-1]``, adding to ``errors``; return them."""
    cdef _Entry entry
    cdef Py_ssize_t index
    cdef unsigned long me = PyThread_get_thread_ident()
    for index in range(last, -1, -1):
        entry = <_Entry>entries[index]
        if entry.state != READY or entry.kind == NO_TEARDOWN:
            continue
        if entry.kind >= AGEN:
            error = await _exit_async(entry.kind, entry.obj, exc, entry.provider)
        elif entry.thread != me:  # created in a worker thread: its teardown may block
            error = await in_teardown_thread(_exit_sync_in_thread, entry.kind, entry.obj, exc, entry.provider)
        else:
            error = _exit_sync(entry.kind, entry.obj, exc, entry.provider)
        if error is not None:
            errors.append((entry.provider, error))
    return errors


cdef object _NOT_CACHED = object()


cdef extern from "_scope_c.h":
    object _owned "__ds_owned"(PyObject* reference)  # a new reference, taken over as it is
    bint _FREE_THREADED "__DS_FREE_THREADED"


cdef inline PyObject* _bound_scope(Scope current, _ScopedProvider provider) noexcept:
    """The scope ``provider`` binds to, from ``current`` (a borrowed reference), or NULL: the
    nearest of its name, or the innermost that is not exclusive, where unbound providers live.
    The walk takes no references: the context holds the current scope, and a scope its parent,
    set once when it is entered."""
    cdef PyObject* at = <PyObject*>current
    if provider._scope_name is not None:
        while not ((<Scope>at)._name is provider._scope_name or (<Scope>at)._name == provider._scope_name):
            if (<Scope>at)._parent is None:
                return NULL
            at = <PyObject*>(<Scope>at)._parent
    else:
        while (<Scope>at)._exclusive:
            if (<Scope>at)._parent is None:
                return NULL
            at = <PyObject*>(<Scope>at)._parent
    return at


cdef inline PyObject* _ready_entry(Scope scope, _ScopedProvider provider) noexcept:
    """The instance of ``provider`` ready in ``scope`` (a new reference), or NULL: nothing is
    handed out once the scope began closing. With the GIL, or under the scope's lock."""
    cdef PyObject* entry
    cdef PyObject* value
    if scope._state != ACTIVE or scope._entries is None:
        return NULL
    entry = _entry_of(scope, provider)
    if entry is NULL or (<_Entry>entry).state != READY:
        return NULL
    value = <PyObject*>(<_Entry>entry).value
    Py_INCREF(<object>value)
    return value


cdef inline object _ready_value(Scope scope, _ScopedProvider provider):
    """_ready_entry under the scope's lock, or _NOT_CACHED. (The pure twin reads its instance
    table without a lock, a dict read being atomic there, and drops the table when closing
    begins.)"""
    cdef PyObject* value
    with cython.critical_section(scope):
        value = _ready_entry(scope, provider)
    return _NOT_CACHED if value is NULL else _owned(value)


cdef inline PyObject* _ready_in(Scope current, _ScopedProvider provider) noexcept:
    """_ready_value from the current scope, for _cached: a new reference to the instance, or
    NULL; with the GIL, no reference taken on the way."""
    cdef PyObject* at = _bound_scope(current, provider)
    if at is NULL:
        return NULL
    if _FREE_THREADED:  # a constant: the other build has no lock to take
        with cython.critical_section(<Scope>at):
            return _ready_entry(<Scope>at, provider)
    return _ready_entry(<Scope>at, provider)


cdef inline bint _is_future(obj) noexcept:
    """isinstance(obj, asyncio.Future), False if the check fails (the resolve path then makes it
    again, and raises)."""
    cdef int found = PyObject_IsInstance(obj, _Future)
    if found < 0:
        PyErr_Clear()
        return False
    return found


cdef extern from "_scope_c.h":
    void* __ds_vectorcall_address
    void __ds_enable_vectorcall(object type, Py_ssize_t offset, void* noargs)


cdef object _call_noargs(_ScopedProvider provider):
    cdef PyObject* value = provider._cached()
    if value is not NULL:
        return _owned(value)
    return provider._call((), {})  # a dict of its own: dependency-injector may fill it


cdef inline bint _is_future_or_coroutine(obj):
    # dependency-injector's test for "this result is awaitable"; a scope's futures are DoneFutures
    return (
        _is_done_future(obj) or type(obj) is _Future or PyCoro_CheckExact(obj)
        or asyncio.isfuture(obj) or asyncio.iscoroutine(obj)
    )


@cython.auto_pickle(False)
cdef class _ScopedProvider(Provider):
    """What the two scoped providers share: scope binding, lookup, copying, injections."""

    cdef void* _vectorcall  # see __ds_vectorcall
    cdef object _key  # its address as an int: its key in a scope's index (see _INDEX_FROM)
    cdef object _inner  # the dependency-injector provider that holds provides and injections
    cdef _Caller _caller  # ContextLocalResource's way of calling provides, made on first use
    cdef str _scope_name
    cdef bint _tears_down  # the pure twin's class attribute
    cdef bint _custom_provide  # a Python subclass overrides _provide: every call goes through it

    cdef void _drop_caller(self) noexcept:
        """Forget the caller made from the old injections (read and replaced under the lock:
        another thread may be resolving with it)."""
        with cython.critical_section(self):
            caller = self._caller  # no-cython-lint: released after the critical section
            self._caller = None

    def __call__(self, *args, **kwargs):
        """Resolve: the current scope's instance, created on first use.

        Keeps the two rules of ``Provider.__call__``: an overriding provider answers instead, and
        the first result latches async mode. (Calls through vectorcall, as Python makes them,
        arrive in _call_noargs or, with arguments, here.)
        """
        return self._call(args, kwargs)

    cdef inline PyObject* _cached(self) noexcept:
        """The instance for this call, if ready in the scope it binds to and handed out as it is
        (a new reference), else NULL: the resolve path then decides."""
        cdef PyObject* found = NULL
        cdef PyObject* value
        if self._last_overriding is not None or self._custom_provide:
            return NULL
        if _context_var_get(_current_scope, NULL, &found) < 0:
            return NULL  # it fails only for an object that is not a ContextVar
        value = NULL if found == <PyObject*>None else _ready_in(<Scope>found, self)
        Py_DECREF(<object>found)  # the variable's default, None, when no scope is current
        if value is NULL or self._async_mode == ASYNC_MODE_DISABLED:
            return value
        if self._async_mode == ASYNC_MODE_ENABLED and (
            _is_done_future(<object>value) or _is_future(<object>value)
        ):
            return value
        Py_DECREF(<object>value)
        return NULL

    cdef object _call(self, tuple args, dict kwargs):
        cdef PyObject* value = self._cached()
        if value is not NULL:
            return _owned(value)
        if self._last_overriding is None:
            if self._custom_provide:
                result = self._provide(args, kwargs)  # dispatches to the override
            else:
                result = self._resolve(self._scope_or_none(), args, kwargs)
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

    cdef Scope _scope_or_none(self):
        cdef Scope current = _get_current()
        cdef PyObject* bound
        if current is None:
            return None
        bound = _bound_scope(current, self)
        return None if bound is NULL else <Scope>bound

    cpdef object _provide(self, tuple args, dict kwargs):
        return self._resolve(self._scope_or_none(), args, kwargs)

    cdef object _resolve(self, Scope scope, tuple args, dict kwargs):
        """_provide() for the scope this provider binds to (None: no such scope is active).
        The pure twin looks the scope up in _scope()."""
        if scope is None:
            current = _get_current()
            if current is None:
                raise ScopeError(no_scope_message(self))
            if self._scope_name is None:
                raise ScopeError(only_exclusive_message(self, current))
            raise ScopeError(unknown_scope_message(self, self._scope_name, current))
        value = _ready_value(scope, self)
        if value is not _NOT_CACHED:
            return value
        return scope._get_or_create(self, args, kwargs)

    cdef object _instantiate(self, tuple args, dict kwargs):
        """Make a new instance; an awaitable stands for one that async injections hold up."""
        try:
            return _make(self._inner, args, kwargs)
        except TypeError:
            if self._inner.provides is None:  # checked here: no cost when it is set
                raise di_errors.Error(no_provides_message(self)) from None
            raise

    cdef bint _has_instance(self):
        """Whether the scope this provider binds to holds a created instance."""
        cdef Scope scope = self._scope_or_none()
        return scope is not None and _ready_value(scope, self) is not _NOT_CACHED

    # dependency-injector's provider protocol ------------------------------------------------

    def __deepcopy__(self, memo):
        if memo is None:
            memo = {}
        copied = memo.get(id(self))
        if copied is not None:
            return copied
        if self._tears_down and self._has_instance():
            raise di_errors.Error(copy_initialized_message(self))
        cdef _ScopedProvider duplicate = type(self)()
        memo[id(self)] = duplicate
        duplicate._inner = copy_inner_deeply(self, self._inner, memo)
        duplicate._scope_name = self._scope_name
        self._copy_overridings(duplicate, memo)
        return duplicate

    def __copy__(self):
        """A provider of its own with the same provides, injections, scope binding and
        overriding providers; no instances."""
        cdef _ScopedProvider duplicate = type(self)()
        duplicate._inner = copy_inner(self._inner)
        duplicate._scope_name = self._scope_name
        for provider in self.overridden:
            duplicate.override(provider)
        return duplicate

    def __str__(self):
        return represent(self)

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
        self._inner.set_provides(check_provides(self, provides))
        self._drop_caller()
        return self

    @property
    def args(self):
        """Positional argument injections."""
        return self._inner.args

    def add_args(self, *args):
        self._inner.add_args(*args)
        self._drop_caller()
        return self

    def set_args(self, *args):
        self._inner.set_args(*args)
        self._drop_caller()
        return self

    def clear_args(self):
        self._inner.clear_args()
        self._drop_caller()
        return self

    @property
    def kwargs(self):
        """Keyword argument injections."""
        return self._inner.kwargs

    def add_kwargs(self, **kwargs):
        self._inner.add_kwargs(**kwargs)
        self._drop_caller()
        return self

    def set_kwargs(self, **kwargs):
        self._inner.set_kwargs(**kwargs)
        self._drop_caller()
        return self

    def clear_kwargs(self):
        self._inner.clear_kwargs()
        self._drop_caller()
        return self


@cython.auto_pickle(False)
cdef class ContextLocalSingleton(_ScopedProvider):
    """One instance per scope, created like ``providers.Factory`` would; no teardown.

    A drop-in for ``dependency_injector.providers.ContextLocalSingleton`` whose instance lives in
    the current scope, so it is shared with threads and tasks of that scope and dropped when the
    scope ends.
    """

    def __cinit__(self, *args, **kwargs):
        self._vectorcall = __ds_vectorcall_address
        self._key = PyLong_FromVoidPtr(<void*>self)
        self._custom_provide = type(self)._provide is not _SCOPED_PROVIDE

    provided_type = None  # a subclass that sets it provides only instances of it (checked when built)

    def __init__(self, provides=None, *args, **kwargs):
        self._inner = providers.Factory(check_provides(self, provides), *args, **kwargs)
        self._tears_down = False
        Provider.__init__(self)

    @property
    def cls(self):
        """The class it provides: ``provides``, as dependency-injector's singletons name it."""
        return self._inner.provides

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


@cython.final
@cython.auto_pickle(False)
cdef class _Caller:
    """How a ContextLocalResource calls ``provides`` with its injections resolved.

    dependency-injector's Callable would do it, but on Python < 3.12 it takes a generator for a
    coroutine and runs it as a task once an injection is asynchronous; and resolving here skips
    its generic machinery. Injections follow its rules: a provider is called, unless it is
    delegated; call arguments come after injected ones. Call-time keyword arguments (rare for a
    scoped provider) go through dependency-injector itself, for its ``name__attr`` forwarding.
    """

    cdef object provides
    cdef tuple values  # positional injections
    cdef tuple calls  # True where the positional injection is a provider to call
    cdef tuple names  # keyword injections
    cdef tuple named_values
    cdef tuple named_calls
    cdef Provider inner  # holds the latch "injections may be awaitable" in its async mode
    cdef Provider packer  # dependency-injector's resolution, for call-time keyword arguments

    def __cinit__(self, inner):
        self.inner = <Provider?>inner
        self.provides = inner.provides
        self.values = inner.args
        self.calls = tuple([_injects(value) for value in self.values])
        named = inner.kwargs
        self.names = tuple(named)
        self.named_values = tuple(named.values())
        self.named_calls = tuple([_injects(value) for value in self.named_values])
        # Made here rather than on first use: the fields never change once a caller exists.
        self.packer = providers.Callable(_pack, *self.values, **dict(zip(self.names, self.named_values)))

    cdef object call(self, tuple args, dict kwargs):
        cdef Py_ssize_t index
        cdef list positional
        cdef dict named
        cdef bint check = self.inner._async_mode != ASYNC_MODE_DISABLED
        cdef bint pending = False
        if kwargs:
            packed = _make(self.packer, args, kwargs)
            if _awaitable(packed):
                return _call_when_ready(self.provides, packed)
            return self.provides(*(<tuple>packed)[0], **(<tuple>packed)[1])
        if not self.values and not self.names:
            return self.provides(*args)
        positional = list(self.values)
        for index in range(len(positional)):
            if self.calls[index] is True:
                positional[index] = value = positional[index]()
                if check and _awaitable(value):
                    pending = True
        if args:
            positional.extend(args)
        named = {}
        for index in range(len(self.names)):
            value = self.named_values[index]
            if self.named_calls[index] is True:
                value = value()
                if check and _awaitable(value):
                    pending = True
            named[self.names[index]] = value
        if self.inner._async_mode == ASYNC_MODE_UNDEFINED:
            self.inner._async_mode = ASYNC_MODE_ENABLED if pending else ASYNC_MODE_DISABLED
        if pending:
            return _call_with_injections(self.provides, positional, named)
        return self.provides(*positional, **named)


cdef inline object _injects(value):
    return bool(_is_provider(value) and not _is_delegated(value))


@cython.auto_pickle(False)
cdef class ContextLocalResource(_ScopedProvider):
    """One instance per scope, torn down when the scope ends.

    ``provides`` is a generator function, an async generator function, a callable returning a
    context manager or an async context manager, or a plain callable (no teardown). A drop-in for
    ``dependency_injector.providers.ContextLocalResource``; teardown is driven by the scope and
    sees the exception that ended it.
    """

    def __cinit__(self, *args, **kwargs):
        self._vectorcall = __ds_vectorcall_address
        self._key = PyLong_FromVoidPtr(<void*>self)
        self._custom_provide = type(self)._provide is not _SCOPED_PROVIDE

    def __init__(self, provides=None, *args, **kwargs):
        self._inner = providers.Callable(check_provides(self, provides), *args, **kwargs)
        self._tears_down = True
        Provider.__init__(self)

    cdef object _instantiate(self, tuple args, dict kwargs):
        cdef _Caller caller
        with cython.critical_section(self):  # a strong reference: see _drop_caller
            caller = self._caller
        if caller is None:
            if self._inner.provides is None:
                raise di_errors.Error(no_provides_message(self))
            caller = _Caller(self._inner)
            with cython.critical_section(self):
                self._caller = caller
        return caller.call(args, kwargs)

    @property
    def initialized(self):
        """Whether the current scope holds an instance."""
        return self._has_instance()

    def init(self):
        """Resolve the resource in the current scope (``await`` it if it is asynchronous)."""
        return self()

    def shutdown(self):
        """Tear down the current scope's instance now, as on success; the next resolve creates a
        new one. Returns an awaitable when the provider is asynchronous."""
        return self._shutdown(None)

    def _shutdown(self, exc):
        """shutdown() with ``exc`` thrown into the teardown (a ``Closing[...]`` call that failed)."""
        cdef Scope scope = self._scope_or_none()
        cdef _Entry entry = None if scope is None else scope._detach(self)
        if entry is not None and entry.kind != NO_TEARDOWN:
            if entry.kind >= AGEN:
                return _raise_if_error(_exit_async(entry.kind, entry.obj, exc, self))
            error = _exit_sync(entry.kind, entry.obj, exc, self)
            if error is not None:
                raise error
        return _READY_NONE if self._async_mode == ASYNC_MODE_ENABLED else None


cdef object _SCOPED_PROVIDE = getattr(_ScopedProvider, "_provide")  # the method, looked up at run time


cdef int _enable_vectorcall() except -1:
    cdef _ScopedProvider probe = ContextLocalResource.__new__(ContextLocalResource)
    cdef Py_ssize_t offset = <char*>&probe._vectorcall - <char*><PyObject*>probe
    for cls in (ContextLocalSingleton, ContextLocalResource):
        __ds_enable_vectorcall(cls, offset, <void*>_call_noargs)
    return 0


_enable_vectorcall()


def _pack(*args, **kwargs):
    return args, kwargs


async def _await_injections(list args, dict kwargs):
    """Await the injections that are awaitable, together; return the arguments."""
    names = [name for name, value in kwargs.items() if _awaitable(value)]
    indexes = [index for index, value in enumerate(args) if _awaitable(value)]
    values = await asyncio.gather(*[args[i] for i in indexes], *[kwargs[n] for n in names])
    for index, value in zip(indexes, values):
        args[index] = value
    for name, value in zip(names, values[len(indexes):]):
        kwargs[name] = value
    return args, kwargs


async def _call_with_injections(provides, list args, dict kwargs):
    args, kwargs = await _await_injections(args, kwargs)
    return provides(*args, **kwargs)


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


def _adopt(Scope scope):
    """Make ``scope``, entered in another context, the current scope of this one; return the
    token for ``_unadopt`` (the pure twin's _adopt)."""
    return PyContextVar_Set(_current_scope, scope)


def _unadopt(token):
    _reset_context_var(_current_scope, token)


def scope(name=DEFAULT_SCOPE_NAME, *, exclusive=False):
    """A new scope named ``name``, nested in the current one when entered.

    Use it as ``with scope():``, ``async with scope():``, or as a decorator (``@scope()``,
    ``@scope("job")`` or bare ``@scope``): each call of the decorated function runs in a fresh scope.
    An ``exclusive`` scope holds only providers bound to its name with ``in_scope()``; the others
    resolve in the enclosing scope (the FastAPI integration's "endpoint" scope is one).
    ``exclusive`` is ``True`` or ``False``; a ``str`` subclass as ``name`` (a ``StrEnum`` member)
    is kept as its plain ``str`` value. Scopes exit innermost first: exiting one while a scope
    entered inside it is open raises ``ScopeError`` and closes both.
    """
    cdef Scope created
    if type(name) is str and name and (exclusive is False or exclusive is True):
        created = Scope.__new__(Scope)
        created._name = name
        created._exclusive = exclusive
        return created
    if callable(name):
        return scoped_function(Scope, name)
    return Scope(name, exclusive=exclusive)


# The fast path's Factory graphs (the same section of _scope_py.py) ----------------------------

include "_scope_c_graph.pxi"


cdef object _NO_VALUE = object()  # the pure twin's _MISSING, as _find_value's "not found"


cdef object _find_value(Scope scope, key):
    """The value for ``key`` in ``scope`` or the nearest enclosing scope that has one, else _NO_VALUE."""
    cdef dict values
    while scope is not None:
        values = scope._values
        if values is not None and key in values:
            return values[key]
        scope = scope._parent
    return _NO_VALUE


@cython.auto_pickle(False)
cdef class ScopeValue(Provider):
    """Injects the value put into the current scope under ``key``.

    The integrations put their framework's request object there under ``di_scopes.REQUEST``
    (the Celery integration the task under ``di_scopes.TASK``); ``Scope.set_value(key, value)``
    puts any other. ``providers.Factory(CurrentUser, request=ScopeValue(di_scopes.REQUEST))``
    then builds on the request without passing it through every layer. Resolving it outside a
    scope, or when no active scope holds the key, raises ``ScopeError``.
    """

    cdef object _key

    def __init__(self, key=None):
        self._key = key
        super().__init__()

    @property
    def key(self):
        """The key the value is looked up under."""
        return self._key

    @property
    def provides(self):
        """The key (what ``describe`` and ``repr`` show)."""
        return self._key

    cpdef object _provide(self, tuple args, dict kwargs):
        cdef Scope scope = _get_current()
        if scope is None:
            raise ScopeError(value_outside_scope_message(self))
        value = _find_value(scope, self._key)
        if value is _NO_VALUE:
            raise ScopeError(no_value_message(self, scope))
        return value

    def __deepcopy__(self, memo):
        if memo is None:
            memo = {}
        copied = memo.get(id(self))
        if copied is not None:
            return copied
        cdef ScopeValue duplicate = type(self)(self._key)
        memo[id(self)] = duplicate
        self._copy_overridings(duplicate, memo)
        return duplicate

    def __str__(self):
        return providers.represent_provider(provider=self, provides=self._key)

    def __repr__(self):
        return self.__str__()

    @property
    def related(self):
        """Overriding providers."""
        yield from self.overridden
