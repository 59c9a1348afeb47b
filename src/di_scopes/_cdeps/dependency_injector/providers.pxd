# The one class of dependency_injector.providers that the compiled twin builds on.
#
# Declaring only Provider keeps the extension's import-time layout check to this class, whose
# fields and cpdef methods (in this order) have not changed since dependency-injector 4.30.
# Cimporting the full providers.pxd would tie the build to one dependency-injector release.

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
