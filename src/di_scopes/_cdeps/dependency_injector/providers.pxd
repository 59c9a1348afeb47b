# The classes of dependency_injector.providers that the compiled twin reads at C level.
#
# Declared here rather than cimported from dependency-injector's own providers.pxd, so that the
# build needs no dependency-injector and the extension's import-time layout check covers only
# these classes. Provider's fields and cpdef methods (in this order) have not changed since
# dependency-injector 4.30; the fields of Callable, Factory and the injections, which the fast
# path's Factory graphs read instead of their properties, are the same from 4.45 to 4.49 at
# least. A release that changes a size fails that check: di_scopes then warns and uses the
# pure-Python twin. _scope_c also checks at import what it reads against the properties.
#
# A shortcut (CONTRIBUTING.md, "The rule for shortcuts"): it relies on Cython's rule that an
# extern cdef class's object struct and vtable are laid out in declaration order, and on
# dependency-injector keeping these declarations in its own providers.pxd.

cdef class Provider:
    cdef tuple _overridden
    cdef Provider _last_overriding
    cdef tuple _overrides
    cdef int _async_mode

    cpdef bint is_async_mode_enabled(self)
    cpdef bint is_async_mode_disabled(self)
    cpdef bint is_async_mode_undefined(self)

    cpdef object _provide(self, tuple args, dict kwargs)
    cpdef void _copy_overridings(self, Provider copied, dict memo)


cdef class Callable(Provider):
    cdef object _provides
    cdef tuple _args  # of PositionalInjection
    cdef int _args_len
    cdef tuple _kwargs  # of NamedInjection
    cdef int _kwargs_len


cdef class Factory(Provider):
    cdef Callable _instantiator
    cdef tuple _attributes  # of NamedInjection
    cdef int _attributes_len


cdef class Injection:
    cdef object _value
    cdef int _is_provider
    cdef int _is_delegated
    cdef int _call  # _value is a provider and not delegated: it is called to get the value


cdef class PositionalInjection(Injection):
    pass


cdef class NamedInjection(Injection):
    cdef object _name
