# The fast path's Factory graphs: the section of _scope_c.pyx that builds dependency-injector
# Factory graphs for di_scopes.fastapi.inject (the same section of _scope_py.py). Included by
# _scope_c.pyx at its place among the sections, which it shares everything with. Beyond the pure
# twin, it builds a Factory latched to sync mode itself (_build_sync), as dependency-injector's
# sync call does, where the pure twin calls it.

cdef object _Factory = providers.Factory
cdef object _future_done = asyncio.Future.done
cdef object _future_result = asyncio.Future.result
cdef object _future_cancelled = asyncio.Future.cancelled
cdef object _future_exception = asyncio.Future.exception
cdef set _plain_classes = set()  # classes whose instances are never futures or coroutines

cdef extern from "Python.h":
    # A Factory graph that refers back to itself raises RecursionError, as a chain of
    # dependency-injector's calls does, instead of overflowing the C stack.
    int Py_EnterRecursiveCall(const char *where) except 1  # 1 with RecursionError set
    void Py_LeaveRecursiveCall()


def provide_graph(provider):
    """``provider()``, with a ``Factory`` graph that has asynchronous injections built here
    (see _scope_py.provide_graph)."""
    return _provide_graph(provider)


cdef inline bint _builds(provider):
    """Whether the fast path builds ``provider`` itself (_scope_py._builds)."""
    cdef Factory factory
    if type(provider) is not _Factory:
        return False
    factory = <Factory>provider
    return factory._async_mode != ASYNC_MODE_DISABLED and factory._last_overriding is None


cdef object _provide_graph(provider):
    if _builds(provider):
        return _build_graph(<Factory>provider)
    return _call_provider(provider)


cdef inline object _call_provider(provider):
    """``provider()``; a scoped provider without the call dispatch, a sync ``Factory`` built here."""
    cls = type(provider)
    if cls is ContextLocalResource or cls is ContextLocalSingleton:
        return _call_noargs(<_ScopedProvider>provider)
    if cls is _Factory and _builds_sync(<Factory>provider):
        return _build_sync(<Factory>provider)
    return provider()


cdef inline bint _builds_sync(Factory factory) noexcept:
    """Whether ``factory()`` is dependency-injector's sync call, which _build_sync makes: the
    Factory latched to sync mode, not overridden, without attribute injections (which that call
    still looks for futures in)."""
    return (
        factory._async_mode == ASYNC_MODE_DISABLED and factory._last_overriding is None
        and factory._attributes_len == 0
    )


cdef object _build_sync(Factory factory):
    # What dependency-injector's call of a Factory in sync mode does: each injection's provider
    # called in order, positional ones then keyword ones, its value passed as it is (sync mode
    # looks for no future), the instance returned as it is. _reads_match checks the fields.
    cdef Callable instantiator = factory._instantiator
    cdef tuple injections = instantiator._args
    cdef Py_ssize_t index, count = len(injections)
    cdef Injection injection
    cdef dict kwargs = None
    Py_EnterRecursiveCall(" while building a Factory graph")
    try:
        args = PyTuple_New(count)
        for index in range(count):
            injection = <Injection>injections[index]
            value = _call_provider(injection._value) if injection._call else injection._value
            Py_INCREF(value)
            PyTuple_SET_ITEM(args, index, value)
        if instantiator._kwargs_len:
            kwargs = {}
            for injection in instantiator._kwargs:
                value = injection._value
                kwargs[(<NamedInjection>injection)._name] = _call_provider(value) if injection._call else value
            return PyObject_Call(instantiator._provides, args, kwargs)
        return PyObject_CallObject(instantiator._provides, args)
    finally:
        Py_LeaveRecursiveCall()


cdef inline bint _enabled(provider):
    """Whether ``provider`` is in async mode: a call of it hands out a future."""
    return isinstance(provider, Provider) and (<Provider>provider)._async_mode == ASYNC_MODE_ENABLED


cdef bint _is_future_or_coroutine_cached(value):
    # _scope_py._is_future_or_coroutine: dependency-injector's test, with its non-awaitable classes cached
    cls = type(value)
    if cls is _Future or _is_done_future(value):
        return True
    if cls in _plain_classes:
        return False
    if asyncio.isfuture(value) or asyncio.iscoroutine(value):
        return True
    if not hasattr(cls, "_asyncio_future_blocking") and len(_plain_classes) < 256:
        _plain_classes.add(cls)
    return False


cdef dict _awaitable_classes = {}  # class -> isawaitable's answer (see _scope_py._is_awaitable)


cdef bint _awaitable_cached(value) except -1:
    cls = type(value)
    if _is_done_future(value) or cls is _Future or PyCoro_CheckExact(value):
        return True
    known = _awaitable_classes.get(cls)
    if known is None:
        known = isawaitable(value)
        if not PyGen_CheckExact(value) and len(_awaitable_classes) < 256:
            _awaitable_classes[cls] = known
    return known is True


cdef object _NOT_DONE = object()


cdef inline object _done_result(value):
    """The result of a future that finished with one, else _NOT_DONE (_scope_py._done_result)."""
    if _is_done_future(value):
        return <object>_done_value(value)
    if (
        type(value) is _Future and _future_done(value) and not _future_cancelled(value)
        and _future_exception(value) is None
    ):
        return _future_result(value)
    return _NOT_DONE


@cython.final
cdef class _GraphState:
    """What resolving one Factory's injections found (the pure twin's _State)."""

    cdef bint asynchronous
    cdef list pending

    cdef object take(self, provider, values, key):
        cdef bint built = _builds(provider)
        value = _build_graph(<Factory>provider) if built else _call_provider(provider)
        if _enabled(provider):
            self.asynchronous = True
        if not _is_future_or_coroutine_cached(value):
            return value
        self.asynchronous = True
        done = _done_result(value)
        if done is not _NOT_DONE:
            return done
        if self.pending is None:
            self.pending = []
        self.pending.append((values, key, built))
        return value


cdef object _build_graph(Factory factory):
    Py_EnterRecursiveCall(" while building a Factory graph")
    try:
        return _build_graph_here(factory)
    finally:
        Py_LeaveRecursiveCall()


cdef object _build_graph_here(Factory factory):
    # The pure twin reads the Factory's args, kwargs, attributes and provides properties, which
    # build a tuple or a dict of the original values at each read;
    # this reads the injections they are built from, as dependency-injector's own call does.
    cdef Callable instantiator = factory._instantiator
    cdef _GraphState state = _GraphState.__new__(_GraphState)
    cdef Injection injection
    cdef Py_ssize_t index
    cdef tuple injections = instantiator._args
    cdef list args = PyList_New(len(injections))
    for index in range(len(injections)):
        injection = <Injection>injections[index]
        value = injection._value
        if injection._call:
            value = state.take(value, args, index)
        Py_INCREF(value)
        PyList_SET_ITEM(args, index, value)
    cdef dict kwargs = _named_values(instantiator._kwargs, state)
    cdef dict attributes = _named_values(factory._attributes, state) if factory._attributes_len else None
    provides = instantiator._provides
    if state.pending is not None:
        _latch(factory, True)
        return _build_when_ready(provides, args, kwargs, attributes, state.pending)
    instance = PyObject_Call(provides, PyList_AsTuple(args), kwargs)
    if _is_future_or_coroutine_cached(instance):  # an async factory function
        _latch(factory, True)
        return _with_attributes(instance, attributes) if attributes else instance
    if attributes is not None:
        for name, value in attributes.items():
            setattr(instance, name, value)
    _latch(factory, state.asynchronous)
    return instance


cdef dict _named_values(tuple injections, _GraphState state):
    """The values of a Factory's keyword or attribute injections, by name."""
    cdef dict values = {}
    cdef Injection injection
    for injection in injections:
        name = (<NamedInjection>injection)._name
        value = injection._value
        values[name] = state.take(value, values, name) if injection._call else value
    return values


cdef bint _reads_match(Provider provider) except -1:
    """Whether what _build_graph reads of a Factory is what its properties give."""
    cdef Factory factory = <Factory>provider
    cdef Callable instantiator = factory._instantiator
    cdef Injection injection
    if type(instantiator) is not providers.Callable or instantiator._provides is not provider.provides:
        return False
    seen = [(injection._value, injection._call) for injection in instantiator._args]
    if seen != [(value, _injects(value)) for value in provider.args] or instantiator._args_len != len(seen):
        return False
    for injections, count, expected in (
        (instantiator._kwargs, instantiator._kwargs_len, provider.kwargs),
        (factory._attributes, factory._attributes_len, provider.attributes),
    ):
        seen = [((<NamedInjection>injection)._name, injection._value, injection._call) for injection in injections]
        if seen != [(name, value, _injects(value)) for name, value in expected.items()] or count != len(seen):
            return False
    return True


cdef object _probe():
    probe = providers.Factory(dict, 1, providers.Object(2), a=3, b=providers.Object(4))
    probe.add_attributes(c=providers.Object(5), d=6)
    return probe


if not _reads_match(_probe()):
    from importlib.metadata import version as _version

    raise ValueError(
        f"the fields of dependency-injector {_version('dependency-injector')}'s Factory are not laid "
        "out as di-scopes' compiled twin reads them"
    )


cdef inline void _latch(Provider factory, bint asynchronous) noexcept:
    if factory._async_mode == ASYNC_MODE_UNDEFINED:
        factory._async_mode = ASYNC_MODE_ENABLED if asynchronous else ASYNC_MODE_DISABLED


async def await_pending(values, list pending):
    """Await the pending values in ``values`` (a list or dict) and put their results in place:
    several together, a lone future or build of the fast path's own in the caller's task
    (_scope_py.await_pending)."""
    if len(pending) == 1:
        _, key, built = pending[0]
        value = values[key]
        if built or asyncio.isfuture(value):
            values[key] = await value
            return values
    results = await asyncio.gather(*[values[key] for _, key, _ in pending])
    for (_, key, _), result in zip(pending, results):
        values[key] = result
    return values


async def _build_when_ready(provides, list args, dict kwargs, dict attributes, list pending):
    if len(pending) == 1:
        values, key, built = pending[0]
        value = values[key]
        if built or asyncio.isfuture(value):
            values[key] = await value
        else:
            values[key] = (await asyncio.gather(value))[0]
    else:
        results = await asyncio.gather(*[values[key] for values, key, _ in pending])
        for (values, key, _), result in zip(pending, results):
            values[key] = result
    instance = provides(*args, **kwargs)
    if _is_future_or_coroutine_cached(instance):
        instance = await instance
    if attributes is not None:
        for name, value in attributes.items():
            setattr(instance, name, value)
    return instance


async def _with_attributes(instance, dict attributes):
    instance = await instance
    for name, value in attributes.items():
        setattr(instance, name, value)
    return instance


cdef tuple _MARKERS = (wiring.Provide, wiring.Provider, wiring.Closing)  # see _scope_py._MARKERS


def inject_into(dict injections, dict kwargs):
    """Resolve an async function's injections (name -> provider) into ``kwargs``, as
    dependency-injector's ``@inject`` does, building ``Factory`` graphs here; return the pending
    names for await_pending, or None (the pure twin's counterpart is _scope_py.inject_into)."""
    cdef list pending = None
    cdef bint built, awaited
    for name, provider in injections.items():
        if name in kwargs and not isinstance(kwargs[name], _MARKERS):
            continue
        built = _builds(provider)
        if built:
            value = _build_graph(<Factory>provider)
            awaited = _is_future_or_coroutine_cached(value)  # still pending; else the instance
        else:
            value = _call_provider(provider)
            awaited = _enabled(provider) or _awaitable_cached(value)
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


def inject_sync(dict injections, dict kwargs):
    """Resolve a sync function's injections into ``kwargs``, as dependency-injector's ``@inject``
    does: each provider called, its value passed as it is (_scope_py.inject_sync)."""
    _inject_sync(injections, kwargs)


cdef _inject_sync(dict injections, dict kwargs):
    for name, provider in injections.items():
        if name in kwargs and not isinstance(kwargs[name], _MARKERS):
            continue
        kwargs[name] = _call_provider(provider)


def call_in_scope(Scope scope, dict injections, fn, tuple args, dict kwargs):
    """``with scope:`` resolve ``fn``'s injections into ``kwargs`` and return ``fn(*args,
    **kwargs)``: the sync fast path's call, without the with statement's method calls
    (_scope_py.call_in_scope)."""
    scope._activate()
    try:
        _inject_sync(injections, kwargs)
        result = PyObject_Call(fn, args, kwargs)
    except BaseException as error:
        scope._exit(error)
        raise
    scope._exit(None)
    return result
