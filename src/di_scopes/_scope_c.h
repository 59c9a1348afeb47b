/* The C parts of di-scopes' compiled twin (_scope_c.pyx), declared there with
   `cdef extern from "_scope_c.h"`: what Cython cannot express, or not without cost.

   - Stepping an async generator through its type's slots (__ds_anext, __ds_agen_step).
   - _Ready, an awaitable already finished with a value, and DoneFuture, a future already
     finished with one: the pure twin's _scope_py.Ready and _scope_py.DoneFuture.
   - Vectorcall for the scoped providers, so that a call without arguments reaches the
     resolve path without building an argument tuple and dict.

   Every function here is static: the header belongs to the one module that includes it. */

#ifndef DI_SCOPES_SCOPE_C_H
#define DI_SCOPES_SCOPE_C_H

#include <Python.h>

/* Steps an async generator: __ds_anext(agen) is agen.__anext__() through the type's slot, and
   __ds_agen_step sends None into that awaitable (or into an athrow()). It returns PYGEN_NEXT
   when the step suspended on *presult, PYGEN_RETURN when the generator yielded *presult, 2
   when it finished, or -1 with the error set. A finished generator's StopAsyncIteration is
   cleared while it is still only a type: caught by an except clause it would be created as an
   object and given a traceback entry, with a frame object, on every teardown. */
static PyObject *__ds_anext(PyObject *agen) {
    return Py_TYPE(agen)->tp_as_async->am_anext(agen);
}
static int __ds_agen_step(PyObject *step, PyObject **presult) {
    int status = PyIter_Send(step, Py_None, presult);
    if (status == PYGEN_ERROR && PyErr_ExceptionMatches(PyExc_StopAsyncIteration)) {
        PyErr_Clear();
        *presult = NULL;
        return 2;
    }
    return status;
}

/* _Ready: an awaitable that is already finished with a value: what __aenter__, and an
   __aexit__ or aclose() that finished without suspending, return. The pure twin's
   counterpart is _scope_py.Ready; a coroutine or a Future would cost an allocation of a
   tracked object, a frame or an event-loop call. Awaiting it never suspends: am_send (3.10,
   3.11) returns the value, tp_iternext (3.12+) raises StopIteration(value), or stops with
   None without an exception. */
typedef struct { PyObject_HEAD PyObject *value; } __ds_ready_object;
static PyTypeObject *__ds_ready_type = NULL;

/* The StopIteration that hands a value over, reused (CPython 3.12+, with the GIL).
   From 3.12 on, `await` calls tp_iternext, not am_send, on an awaitable that is not a
   generator or a coroutine (the SEND instruction), so every await of a finished _Ready or
   DoneFuture with a value other than None creates, raises, fetches and frees a StopIteration.
   Reused instead: one StopIteration, raised again while nobody else holds it and it carries
   nothing of a previous raise (no traceback, context, cause or attributes); otherwise a new
   one takes its place. SEND takes the value out with a reference of its own, and so does
   anyone who reads .value. The reused one does not keep a value alive longer than the object
   that handed it over: an object that dies (or is cleared) while the kept StopIteration holds
   its value sets .value back to None, or, when someone else holds the StopIteration, leaves
   it to them. This relies on what CPython's public headers declare: PyStopIterationObject's
   `value` member, which StopIteration's `value` attribute and the interpreter read, and
   PyErr_SetRaisedException (3.12+). The fallback, a new StopIteration for each await, is what
   the 3.10 and 3.11 builds never need, the free-threaded build always uses (no GIL to make the
   reference count check safe), and the reused path falls back to when the kept one is held:
   tests/test_ready_values.py covers both. Compile with -DDI_SCOPES_NO_STOP_REUSE to measure
   without it (CONTRIBUTING.md). */
#if PY_VERSION_HEX >= 0x030C0000 && !defined(Py_GIL_DISABLED) && !defined(DI_SCOPES_NO_STOP_REUSE)
#define __DS_REUSE_STOP 1
static PyObject *__ds_stop = NULL;

static int __ds_stop_is_clean(PyObject *stop) {
    PyBaseExceptionObject *exc = (PyBaseExceptionObject *)stop;
    return Py_REFCNT(stop) == 1 && exc->traceback == NULL && exc->context == NULL &&
           exc->cause == NULL && exc->dict == NULL && exc->notes == NULL;
}
static void __ds_stop_forget(PyObject *value) {  /* an object that handed `value` over dies */
    if (__ds_stop == NULL || ((PyStopIterationObject *)__ds_stop)->value != value) return;
    if (Py_REFCNT(__ds_stop) == 1)
        Py_SETREF(((PyStopIterationObject *)__ds_stop)->value, Py_NewRef(Py_None));
    else
        Py_CLEAR(__ds_stop);  /* someone keeps it: theirs, with its value */
}
#else
#define __DS_REUSE_STOP 0
#define __ds_stop_forget(value) ((void)0)
#endif

static void __ds_ready_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    __ds_stop_forget(((__ds_ready_object *)self)->value);
    Py_CLEAR(((__ds_ready_object *)self)->value);
    tp->tp_free(self);
    Py_DECREF(tp);
}
static PyObject *__ds_ready_await(PyObject *self) {
    Py_INCREF(self);
    return self;
}
static PyObject *__ds_ready_next(PyObject *self) {
    PyObject *value = ((__ds_ready_object *)self)->value, *stop;
    if (value == Py_None) return NULL;
#if __DS_REUSE_STOP
    if (__ds_stop == NULL || !__ds_stop_is_clean(__ds_stop)) {
        Py_CLEAR(__ds_stop);
        __ds_stop = PyObject_CallNoArgs(PyExc_StopIteration);
        if (__ds_stop == NULL) return NULL;
    }
    stop = Py_NewRef(__ds_stop);  /* raised below; the old value's release cannot take it */
    Py_SETREF(((PyStopIterationObject *)stop)->value, Py_NewRef(value));
    PyErr_SetRaisedException(stop);
    return NULL;
#else
    stop = PyObject_CallOneArg(PyExc_StopIteration, value);  /* a tuple stays one value */
    if (stop == NULL) return NULL;
    PyErr_SetObject(PyExc_StopIteration, stop);
    Py_DECREF(stop);
    return NULL;
#endif
}
static PySendResult __ds_ready_send(PyObject *self, PyObject *arg, PyObject **presult) {
    PyObject *value = ((__ds_ready_object *)self)->value;
    Py_INCREF(value);
    *presult = value;
    return PYGEN_RETURN;
}
static PyType_Slot __ds_ready_slots[] = {
    {Py_tp_dealloc, (void *)__ds_ready_dealloc},
    {Py_am_await, (void *)__ds_ready_await},
    {Py_am_send, (void *)__ds_ready_send},
    {Py_tp_iter, (void *)__ds_ready_await},
    {Py_tp_iternext, (void *)__ds_ready_next},
    {0, NULL},
};
static PyType_Spec __ds_ready_spec = {
    "di_scopes._scope_c._Ready", sizeof(__ds_ready_object), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    __ds_ready_slots,
};

static int __ds_ready_init(void) {
    __ds_ready_type = (PyTypeObject *)PyType_FromSpec(&__ds_ready_spec);
    return __ds_ready_type == NULL ? -1 : 0;
}
static PyObject *__ds_ready_new(PyObject *value) {
    __ds_ready_object *self = PyObject_New(__ds_ready_object, __ds_ready_type);
    if (self == NULL) return NULL;
    Py_INCREF(value);
    self->value = value;
    return (PyObject *)self;
}

/* DoneFuture: what an async scoped provider hands out for its instance, a future that is
   already finished with it. Awaiting it never suspends (the same protocol as _Ready), and
   asyncio.isfuture() accepts it (dependency-injector's Factory then gathers it as a future):
   done(), result(), exception(), cancelled(), cancel(), add_done_callback() (scheduled on
   its loop, as a finished asyncio.Future schedules it), remove_done_callback() and
   get_loop() (the loop that ran when it was made, as an asyncio.Future's). The pure twin's
   counterpart is _scope_py.DoneFuture. Its value is where _Ready keeps its own. */
typedef struct { PyObject_HEAD PyObject *value; PyObject *loop; } __ds_done_object;
static PyTypeObject *__ds_done_type = NULL;
static PyObject *__ds_running_loop = NULL;  /* asyncio.get_running_loop */
static PyObject *__ds_call_soon = NULL;     /* "call_soon" */
static PyObject *__ds_context_kw = NULL;    /* ("context",) */

static int __ds_done_traverse(PyObject *self, visitproc visit, void *arg) {
    Py_VISIT(((__ds_done_object *)self)->value);
    Py_VISIT(((__ds_done_object *)self)->loop);
    return 0;
}
static int __ds_done_clear(PyObject *self) {
    __ds_stop_forget(((__ds_done_object *)self)->value);
    Py_CLEAR(((__ds_done_object *)self)->value);
    Py_CLEAR(((__ds_done_object *)self)->loop);
    return 0;
}
static void __ds_done_dealloc(PyObject *self) {
    PyTypeObject *tp = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    __ds_stop_forget(((__ds_done_object *)self)->value);
    Py_CLEAR(((__ds_done_object *)self)->value);
    Py_CLEAR(((__ds_done_object *)self)->loop);
    tp->tp_free(self);
    Py_DECREF(tp);
}
static PyObject *__ds_done_true(PyObject *self, PyObject *unused) { Py_RETURN_TRUE; }
static PyObject *__ds_done_false(PyObject *self, PyObject *unused) { Py_RETURN_FALSE; }
static PyObject *__ds_done_none(PyObject *self, PyObject *unused) { Py_RETURN_NONE; }
static PyObject *__ds_done_result(PyObject *self, PyObject *unused) {
    PyObject *value = ((__ds_ready_object *)self)->value;
    Py_INCREF(value);
    return value;
}
static PyObject *__ds_done_cancel(PyObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"msg", NULL};
    PyObject *msg = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "|O:cancel", kwlist, &msg)) return NULL;
    Py_RETURN_FALSE;  /* finished: nothing to cancel */
}
static PyObject *__ds_done_loop(PyObject *self) {  /* a new reference, or NULL */
    PyObject *loop = ((__ds_done_object *)self)->loop;
    if (loop == NULL) return PyObject_CallNoArgs(__ds_running_loop);
    Py_INCREF(loop);
    return loop;
}
static PyObject *__ds_done_get_loop(PyObject *self, PyObject *unused) {
    return __ds_done_loop(self);
}
static PyObject *__ds_done_add_callback(PyObject *self, PyObject *args, PyObject *kwds) {
    static char *kwlist[] = {"", "context", NULL};
    PyObject *fn, *context = Py_None, *loop, *result, *stack[4];
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|$O:add_done_callback", kwlist, &fn, &context))
        return NULL;
    loop = __ds_done_loop(self);
    if (loop == NULL) return NULL;
    stack[0] = loop; stack[1] = fn; stack[2] = self; stack[3] = context;
    result = PyObject_VectorcallMethod(__ds_call_soon, stack, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                       context == Py_None ? NULL : __ds_context_kw);
    Py_DECREF(loop);
    if (result == NULL) return NULL;
    Py_DECREF(result);
    Py_RETURN_NONE;
}
static PyObject *__ds_done_remove_callback(PyObject *self, PyObject *fn) {
    return PyLong_FromLong(0);  /* a callback of a finished future is scheduled, not kept */
}
static PyObject *__ds_done_blocking(PyObject *self, void *closure) { Py_RETURN_FALSE; }
static PyObject *__ds_attribute_error = NULL;  /* _errors.done_future_attribute_error */
/* A name the type lacks, most often an `await` forgotten before a resolve, gets an
   AttributeError that says so (the pure twin's DoneFuture.__getattr__). */
static PyObject *__ds_done_getattro(PyObject *self, PyObject *name) {
    PyObject *result = PyObject_GenericGetAttr(self, name), *error;
    if (result != NULL || !PyErr_ExceptionMatches(PyExc_AttributeError)) return result;
    PyErr_Clear();
    error = PyObject_CallFunctionObjArgs(__ds_attribute_error, ((__ds_done_object *)self)->value, name, self, NULL);
    if (error == NULL) return NULL;
    PyErr_SetObject((PyObject *)Py_TYPE(error), error);
    Py_DECREF(error);
    return NULL;
}
static PyObject *__ds_done_repr(PyObject *self) {
    return PyUnicode_FromFormat("<DoneFuture finished result=%R>", ((__ds_ready_object *)self)->value);
}
static PyMethodDef __ds_done_methods[] = {
    {"done", __ds_done_true, METH_NOARGS, "True: the future is finished."},
    {"cancelled", __ds_done_false, METH_NOARGS, "False: it finished with a result."},
    {"result", __ds_done_result, METH_NOARGS, "The instance."},
    {"exception", __ds_done_none, METH_NOARGS, "None: it finished with a result."},
    {"cancel", (PyCFunction)(void(*)(void))__ds_done_cancel, METH_VARARGS | METH_KEYWORDS,
     "False: a finished future cannot be cancelled."},
    {"get_loop", __ds_done_get_loop, METH_NOARGS, "The event loop that ran when it was made."},
    {"add_done_callback", (PyCFunction)(void(*)(void))__ds_done_add_callback,
     METH_VARARGS | METH_KEYWORDS, "Schedule fn(future) on its loop, as a finished asyncio.Future does."},
    {"remove_done_callback", __ds_done_remove_callback, METH_O, "0: callbacks are scheduled at once, not kept."},
    {NULL, NULL, 0, NULL},
};
static PyGetSetDef __ds_done_getset[] = {
    {"_asyncio_future_blocking", __ds_done_blocking, NULL, "What asyncio.isfuture() looks for.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};
static PyType_Slot __ds_done_slots[] = {
    {Py_tp_dealloc, (void *)__ds_done_dealloc},
    {Py_tp_traverse, (void *)__ds_done_traverse},
    {Py_tp_clear, (void *)__ds_done_clear},
    {Py_tp_repr, (void *)__ds_done_repr},
    {Py_tp_getattro, (void *)__ds_done_getattro},
    {Py_tp_methods, (void *)__ds_done_methods},
    {Py_tp_getset, (void *)__ds_done_getset},
    {Py_am_await, (void *)__ds_ready_await},
    {Py_am_send, (void *)__ds_ready_send},
    {Py_tp_iter, (void *)__ds_ready_await},
    {Py_tp_iternext, (void *)__ds_ready_next},
    {0, NULL},
};
static PyType_Spec __ds_done_spec = {
    "di_scopes._scope_c.DoneFuture", sizeof(__ds_done_object), 0,
    Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    __ds_done_slots,
};

static PyObject *__ds_done_init(PyObject *get_running_loop, PyObject *attribute_error) {
    __ds_done_type = (PyTypeObject *)PyType_FromSpec(&__ds_done_spec);
    if (__ds_done_type == NULL) return NULL;
    Py_INCREF(get_running_loop);
    __ds_running_loop = get_running_loop;
    Py_INCREF(attribute_error);
    __ds_attribute_error = attribute_error;
    __ds_call_soon = PyUnicode_InternFromString("call_soon");
    __ds_context_kw = Py_BuildValue("(s)", "context");
    if (__ds_call_soon == NULL || __ds_context_kw == NULL) return NULL;
    Py_INCREF(__ds_done_type);
    return (PyObject *)__ds_done_type;
}
static PyObject *__ds_done_new(PyObject *value, PyObject *loop) {
    __ds_done_object *self = PyObject_GC_New(__ds_done_object, __ds_done_type);
    if (self == NULL) return NULL;
    Py_INCREF(value);
    self->value = value;
    Py_XINCREF(loop);
    self->loop = loop;
    PyObject_GC_Track((PyObject *)self);
    return (PyObject *)self;
}
static inline int __ds_is_done_future(PyObject *obj) { return Py_TYPE(obj) == __ds_done_type; }
static inline PyObject *__ds_done_value(PyObject *obj) { return ((__ds_ready_object *)obj)->value; }

/* Hands a new reference to Cython as an object it owns, without another increment. */
static inline PyObject *__ds_owned(PyObject *reference) { return reference; }
#ifdef Py_GIL_DISABLED
#define __DS_FREE_THREADED 1
#else
#define __DS_FREE_THREADED 0
#endif

/* Vectorcall for the scoped providers: a call without arguments, the common case, reaches
   the resolve path without building an argument tuple and dict.
   A shortcut (CONTRIBUTING.md, "The rule for shortcuts"). It relies on PEP 590 as CPython
   implements it: a call reads the type's Py_TPFLAGS_HAVE_VECTORCALL and tp_vectorcall_offset
   when it is made, so setting them once on the type Cython made, before any instance exists,
   is honoured (PyType_Modified drops the cached lookups). Every instance's slot is filled in
   __cinit__; a call with arguments goes on through tp_call. */
typedef PyObject *(*__ds_noargs_t)(PyObject *);
static __ds_noargs_t __ds_noargs = NULL;

static PyObject *__ds_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames) {
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    PyObject *tuple, *dict = NULL, *result;
    Py_ssize_t i;
    if (nargs == 0 && nkw == 0) {
        return __ds_noargs(callable);
    }
    tuple = PyTuple_New(nargs);
    if (tuple == NULL) return NULL;
    for (i = 0; i < nargs; i++) {
        Py_INCREF(args[i]);
        PyTuple_SET_ITEM(tuple, i, args[i]);
    }
    if (nkw) {
        dict = PyDict_New();
        if (dict == NULL) {
            Py_DECREF(tuple);
            return NULL;
        }
        for (i = 0; i < nkw; i++) {
            if (PyDict_SetItem(dict, PyTuple_GET_ITEM(kwnames, i), args[nargs + i]) < 0) {
                Py_DECREF(tuple);
                Py_DECREF(dict);
                return NULL;
            }
        }
    }
    result = Py_TYPE(callable)->tp_call(callable, tuple, dict);
    Py_DECREF(tuple);
    Py_XDECREF(dict);
    return result;
}

static void *__ds_vectorcall_address = (void *)__ds_vectorcall;

static void __ds_enable_vectorcall(PyObject *type, Py_ssize_t offset, void *noargs) {
    PyTypeObject *t = (PyTypeObject *)type;
    __ds_noargs = (__ds_noargs_t)noargs;
    t->tp_vectorcall_offset = offset;
    t->tp_flags |= Py_TPFLAGS_HAVE_VECTORCALL;
    PyType_Modified(t);
}

#endif /* DI_SCOPES_SCOPE_C_H */
