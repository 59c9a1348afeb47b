"""Builds the compiled twin, ``di_scopes._scope_c``; metadata lives in pyproject.toml.

DI_SCOPES_NO_EXTENSIONS=1 skips the extension (pure-Python install). Without a working compiler
the build falls back to the pure twin with a warning, unless DI_SCOPES_REQUIRE_EXTENSION=1, which
makes a failed compile an error (wheel builds and CI set it).
"""

import os
import platform

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext


def _flag(name):
    return os.environ.get(name, "") not in ("", "0")


NO_EXTENSIONS = _flag("DI_SCOPES_NO_EXTENSIONS") or platform.python_implementation() != "CPython"
REQUIRE_EXTENSION = _flag("DI_SCOPES_REQUIRE_EXTENSION")


class BuildExt(build_ext):
    """Turns a failed compile into a loud warning and a pure-Python install."""

    def run(self):
        try:
            super().run()
        except Exception as error:
            self._fallback(error)

    def build_extension(self, ext):
        try:
            super().build_extension(ext)
        except Exception as error:
            self._fallback(error)

    def _fallback(self, error):
        if REQUIRE_EXTENSION:
            raise error
        self.warn(
            "\n" + "*" * 72 + f"\ndi-scopes: building the compiled twin failed ({error}).\n"
            "Installing the pure-Python twin, which is about 3x slower per request.\n"
            "Set DI_SCOPES_REQUIRE_EXTENSION=1 to make this an error.\n" + "*" * 72
        )


def extensions():
    if NO_EXTENSIONS:
        return []
    from Cython.Build import cythonize

    # Heap types: dependency-injector's abi3 wheels make Provider a heap type, whose dealloc
    # drops a reference to the instance's type; a static subclass type would be freed by it.
    extension = Extension(
        "di_scopes._scope_c",
        ["src/di_scopes/_scope_c.pyx"],
        define_macros=[("CYTHON_USE_TYPE_SPECS", "1")],
    )
    return cythonize(
        [extension],
        include_path=["src/di_scopes/_cdeps"],
        compiler_directives={"language_level": 3, "embedsignature": True},
    )


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
