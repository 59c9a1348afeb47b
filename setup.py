"""Builds the compiled twin, ``di_scopes._scope_c``; metadata lives in pyproject.toml.

DI_SCOPES_NO_EXTENSIONS=1 skips the extension (pure-Python install). When the extension cannot be
built (no C compiler, no Python headers, no Cython) the build falls back to the pure twin with a
warning, unless DI_SCOPES_REQUIRE_EXTENSION=1, which makes that an error (wheel builds and CI set it).
pip shows the warning only with --verbose; ``di_scopes.IMPLEMENTATION`` tells which twin is in use.
"""

import os
import platform
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _flag(name):
    return os.environ.get(name, "") not in ("", "0")


NO_EXTENSIONS = _flag("DI_SCOPES_NO_EXTENSIONS") or platform.python_implementation() != "CPython"
REQUIRE_EXTENSION = _flag("DI_SCOPES_REQUIRE_EXTENSION")

# Heap types: dependency-injector's abi3 wheels make Provider a heap type, whose dealloc
# drops a reference to the instance's type; a static subclass type would be freed by it.
EXTENSION = Extension(
    "di_scopes._scope_c",
    ["src/di_scopes/_scope_c.pyx"],
    define_macros=[("CYTHON_USE_TYPE_SPECS", "1")],
)


class BuildExt(build_ext):
    """Cythonizes at build time (never for an sdist, which ships no generated C), and turns a
    failed build into a loud warning and a pure-Python install."""

    def run(self):
        try:
            super().run()
        except Exception as error:
            self._fallback(error)

    def build_extension(self, ext):
        try:
            from Cython.Build import cythonize

            # The private .pxd declares the few dependency-injector classes read in C: no build-time
            # dependency on dependency-injector, and no layout check of its other classes.
            (cythonized,) = cythonize(
                [ext],
                include_path=["src/di_scopes/_cdeps"],
                compiler_directives={"language_level": 3, "embedsignature": True},
            )
            ext.sources = cythonized.sources
            if self.compiler.compiler_type == "unix":
                # Wheels ship without debug information (3.5 MB of it): the sdist has the sources.
                ext.extra_compile_args = [*ext.extra_compile_args, "-g0"]
                if sys.platform.startswith("linux"):
                    ext.extra_link_args = [*ext.extra_link_args, "-s"]
            super().build_extension(ext)
        except Exception as error:
            if REQUIRE_EXTENSION:
                raise  # reported once, by run()
            self._fallback(error)

    def _fallback(self, error):
        if REQUIRE_EXTENSION:
            sys.stderr.write(f"di-scopes: building the compiled twin failed (DI_SCOPES_REQUIRE_EXTENSION=1): {error}\n")
            raise error
        if getattr(self, "_warned", False):
            return
        self._warned = True
        sys.stderr.write(
            "\n" + "*" * 72 + f"\nWARNING: di-scopes: building the compiled twin failed:\n  {error}\n"
            "Installing the pure-Python twin, which is several times slower.\n"
            "Install a C compiler and the Python headers and reinstall to get the compiled twin;\n"
            "set DI_SCOPES_REQUIRE_EXTENSION=1 to make this an error.\n" + "*" * 72 + "\n\n"
        )


setup(ext_modules=[] if NO_EXTENSIONS else [EXTENSION], cmdclass={"build_ext": BuildExt})
