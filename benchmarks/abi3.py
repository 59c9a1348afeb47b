"""Limited API (one abi3 wheel per platform) or version-specific builds? Measure both.

The compiled twin calls ``PyContextVar_Get/Set/Reset``, ``PyGen_CheckExact`` and
``PyCoro_CheckExact``, which the limited API lacks (``PyIter_Send`` is in it since 3.10). This
script copies the package to a scratch directory, patches a copy of ``_scope_c.pyx`` with
``#if CYTHON_COMPILING_IN_LIMITED_API`` fallbacks (Python-level ``var.get()``/``set()``/``reset()``
through bound methods cached at import, type identity for the checks), builds that one source
twice, with the full API and with ``Py_LIMITED_API=0x030A0000`` (``--limited-api``), and times
both side by side with the unpatched build. The repository is not modified.

The patches fit the sources of commit 3fc21c3, where docs/abi3.md was measured; the compiled twin
has changed since (its raw C moved to _scope_c.h), and the script stops with a message saying so.
Run it from a checkout of that commit (``git worktree add /tmp/abi3 3fc21c3``).

    python -m benchmarks.abi3 build      # into $TMPDIR/di-scopes-abi3 (or --workdir)
    python -m benchmarks.abi3 measure    # interleaved timing, µs per cycle
    python -m benchmarks.abi3 test       # the test suite against the abi3 build
    # instruction counts: PYTHONPATH=<workdir>/pkg python -m benchmarks.callgrind \\
    #     -v c -v c-full:di_scopes._scope_cfull -v c-abi3:di_scopes._scope_cabi3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOURCE = os.path.join(ROOT, "src", "di_scopes")
DEFAULT_WORKDIR = os.path.join(tempfile.gettempdir(), "di-scopes-abi3")

FALLBACKS = '''
cdef extern from *:
    """
    #if CYTHON_COMPILING_IN_LIMITED_API
    static PyObject *__pyx_di_get, *__pyx_di_set, *__pyx_di_reset, *__pyx_di_gen, *__pyx_di_coro;
    static int __pyx_di_init(PyObject *var, PyObject *gen, PyObject *coro) {
        __pyx_di_get = PyObject_GetAttrString(var, "get");
        __pyx_di_set = PyObject_GetAttrString(var, "set");
        __pyx_di_reset = PyObject_GetAttrString(var, "reset");
        if (!__pyx_di_get || !__pyx_di_set || !__pyx_di_reset) return -1;
        Py_INCREF(gen); __pyx_di_gen = gen;
        Py_INCREF(coro); __pyx_di_coro = coro;
        return 0;
    }
    /* one ContextVar in the module: the bound methods cached at import are its own */
    #define __pyx_di_var_get(var) PyObject_CallNoArgs(__pyx_di_get)
    #define __pyx_di_var_set(var, value) PyObject_CallFunctionObjArgs(__pyx_di_set, value, NULL)
    static int __pyx_di_var_reset(PyObject *var, PyObject *token) {
        PyObject *result = PyObject_CallFunctionObjArgs(__pyx_di_reset, token, NULL);
        if (!result) return -1;
        Py_DECREF(result);
        return 0;
    }
    #define __pyx_di_gen_check_exact(obj) (Py_TYPE(obj) == (PyTypeObject *)__pyx_di_gen)
    #define __pyx_di_coro_check_exact(obj) (Py_TYPE(obj) == (PyTypeObject *)__pyx_di_coro)
    #else
    #define __pyx_di_init(var, gen, coro) 0
    static PyObject *__pyx_di_var_get(PyObject *var) {
        PyObject *value = NULL;
        if (PyContextVar_Get(var, NULL, &value) < 0) return NULL;
        if (!value) { Py_INCREF(Py_None); value = Py_None; }
        return value;
    }
    #define __pyx_di_var_set(var, value) PyContextVar_Set(var, value)
    #define __pyx_di_var_reset(var, token) PyContextVar_Reset(var, token)
    #define __pyx_di_gen_check_exact(obj) PyGen_CheckExact(obj)
    #define __pyx_di_coro_check_exact(obj) PyCoro_CheckExact(obj)
    #endif
    """
    int __pyx_di_init(object var, object gen, object coro) except -1
    object __pyx_di_var_get(object var)
    object __pyx_di_var_set(object var, object value)
    int __pyx_di_var_reset(object var, object token)
    bint __pyx_di_gen_check_exact(object obj)
    bint __pyx_di_coro_check_exact(object obj)
'''

# (old, new, expected count): fails loudly when the core changed shape.
PATCHES = [
    ("from cpython.contextvars cimport PyContextVar_Set, get_value\n", "", 1),
    ("    int PyContextVar_Reset(object var, object token)  # checked by hand\n", "", 1),
    ("    bint PyGen_CheckExact(object obj)\n    bint PyCoro_CheckExact(object obj)\n", "", 1),
    ("get_value(_current_scope)", "__pyx_di_var_get(_current_scope)", 1),
    ("PyContextVar_Set(", "__pyx_di_var_set(", 2),
    ("PyContextVar_Reset(", "__pyx_di_var_reset(", 1),
    ("PyGen_CheckExact(", "__pyx_di_gen_check_exact(", 1),
    ("PyCoro_CheckExact(", "__pyx_di_coro_check_exact(", 2),
    (
        'cdef object _current_scope = ContextVar("di_scopes.current_scope", default=None)\n',
        'cdef object _current_scope = ContextVar("di_scopes.current_scope", default=None)\n'
        "from types import CoroutineType as _CoroutineType, GeneratorType as _GeneratorType\n"
        "__pyx_di_init(_current_scope, _GeneratorType, _CoroutineType)\n",
        1,
    ),
    # The limited API cannot give a Cython-made type instance vectorcall (no tp_vectorcall_offset,
    # no flags to set): the abi3 build calls the providers through tp_call.
    (
        '    """\n    /* Vectorcall for the scoped providers:',
        '    """\n    #if CYTHON_COMPILING_IN_LIMITED_API\n'
        "    static void *__ds_vectorcall_address = NULL;\n"
        "    static void __ds_enable_vectorcall(PyObject *type, Py_ssize_t offset, void *noargs) {\n"
        "        (void)type; (void)offset; (void)noargs;\n"
        "    }\n"
        "    #else\n"
        "    /* Vectorcall for the scoped providers:",
        1,
    ),
    ('        PyType_Modified(t);\n    }\n    """', '        PyType_Modified(t);\n    }\n    #endif\n    """', 1),
    # Last: the fallbacks name the functions the replacements above take out.
    ("\n\ncdef enum:\n    PYGEN_RETURN = 0", FALLBACKS + "\n\ncdef enum:\n    PYGEN_RETURN = 0", 1),
]

SETUP = """
import sys
from Cython.Build import cythonize
from setuptools import Extension, setup

LIMITED = [("Py_LIMITED_API", {limited!r}), ("CYTHON_LIMITED_API", "1"), ("CYTHON_USE_TYPE_SPECS", "1")]
FULL = [("CYTHON_USE_TYPE_SPECS", "1")]
root = sys.argv.pop(1)  # pkg: _scope_cfull and _scope_cabi3; pkg_abi3: _scope_c as abi3
if root == "pkg":
    extensions = [
        Extension("di_scopes._scope_cfull", ["pkg/di_scopes/_scope_cfull.pyx"], define_macros=FULL),
        Extension("di_scopes._scope_cabi3", ["pkg/di_scopes/_scope_cabi3.pyx"], define_macros=LIMITED,
                  py_limited_api=True),
    ]
else:
    extensions = [
        Extension("di_scopes._scope_c", ["pkg_abi3/di_scopes/_scope_c.pyx"], define_macros=LIMITED,
                  py_limited_api=True),
    ]
setup(
    name="scratch",
    package_dir={{"": root}},
    ext_modules=cythonize(extensions, include_path=[{cdeps!r}], build_dir="build/" + root,
                          compiler_directives={{"language_level": 3, "embedsignature": True}}),
)
"""


def patched_source() -> str:
    with open(os.path.join(SOURCE, "_scope_c.pyx")) as source:
        text = source.read()
    for old, new, count in PATCHES:
        found = text.count(old)
        if found != count:
            raise SystemExit(
                f"_scope_c.pyx changed: expected {count} of {old.strip()[:60]!r}, found {found}. "
                "These patches fit commit 3fc21c3: run this script from a checkout of it "
                "(git worktree add /tmp/abi3 3fc21c3)."
            )
        text = text.replace(old, new)
    return text


def build(workdir: str, limited: str) -> None:
    shutil.rmtree(workdir, ignore_errors=True)
    ignore = shutil.ignore_patterns("*.c", "*.html", "__pycache__", "_scope_c.pyx")
    for package in ("pkg", "pkg_abi3"):
        shutil.copytree(SOURCE, os.path.join(workdir, package, "di_scopes"), ignore=ignore)
    # The scratch package has the unpatched, version-specific build as _scope_c (for reference)...
    shutil.rmtree(os.path.join(workdir, "pkg_abi3", "di_scopes", "_cdeps"))
    for name in os.listdir(os.path.join(workdir, "pkg_abi3", "di_scopes")):
        if name.startswith("_scope_c.") and name.endswith(".so"):
            os.remove(os.path.join(workdir, "pkg_abi3", "di_scopes", name))
    source = patched_source()
    # ... the patched source built with the full API and with the limited API; and a package whose
    # _scope_c is the abi3 build, for the test suite.
    for path in ("pkg/di_scopes/_scope_cfull.pyx", "pkg/di_scopes/_scope_cabi3.pyx", "pkg_abi3/di_scopes/_scope_c.pyx"):
        with open(os.path.join(workdir, path), "w") as out:
            out.write(source)
    with open(os.path.join(workdir, "setup.py"), "w") as out:
        out.write(SETUP.format(cdeps=os.path.join(SOURCE, "_cdeps"), limited=limited))
    for root in ("pkg", "pkg_abi3"):
        subprocess.run(
            [sys.executable, "setup.py", root, "-q", "build_ext", "--inplace"],
            cwd=workdir,
            check=True,
            stderr=subprocess.DEVNULL,  # compiler warnings about unused docstrings
        )
    for name in sorted(os.listdir(os.path.join(workdir, "pkg", "di_scopes"))) + sorted(
        os.listdir(os.path.join(workdir, "pkg_abi3", "di_scopes"))
    ):
        if name.endswith(".so"):
            print("built", name)


def measure(rounds: int) -> None:
    """Interleaved rounds of each scenario over the three builds; run with the scratch package first
    on sys.path."""
    import asyncio
    import contextlib
    import importlib

    from ._harness import SCENARIOS
    from ._harness import build as build_run
    from ._variants import Twin

    modules = {
        "c (unpatched)": "di_scopes._scope_c",
        "c-full (patched)": "di_scopes._scope_cfull",
        "c-abi3 (patched)": "di_scopes._scope_cabi3",
    }
    loop = asyncio.new_event_loop()
    for label, name in modules.items():
        module = importlib.import_module(name)
        print(f"{label:18} {module.__file__}")
    print(f"\nµs per cycle (per resolve for the cached resolve): min / median of {rounds} interleaved rounds")
    print(f"{'scenario':28}" + "".join(f"{label:>24}" for label in modules) + f"{'abi3 / full (min)':>20}")
    for scenario in (
        "cached_resolve",
        "empty_scope",
        "request_cycle",
        "service_graph",
        "error_path",
        "async_request_cycle",
    ):
        cycles = SCENARIOS[scenario][3]
        with contextlib.ExitStack() as stack:
            runs = {
                label: stack.enter_context(
                    build_run(scenario, Twin("c", importlib.import_module(name)), cycles, loop=loop)
                )
                for label, name in modules.items()
            }
            samples = {label: [] for label in runs}
            order = list(runs)
            for round_ in range(rounds):
                for label in order[round_ % 3 :] + order[: round_ % 3]:
                    start = time.perf_counter_ns()
                    runs[label]()
                    samples[label].append((time.perf_counter_ns() - start) / cycles / 1000)
        cells = "".join(f"{min(s):>11.3f} / {statistics.median(s):<10.3f}" for s in samples.values())
        ratio = min(samples["c-abi3 (patched)"]) / min(samples["c-full (patched)"])
        print(f"{SCENARIOS[scenario][1]:28}{cells}{ratio:>19.2f}×")
    loop.close()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.abi3", description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("build", "measure", "test"))
    parser.add_argument("--workdir", default=DEFAULT_WORKDIR)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--limited-api", default="0x030A0000", help="Py_LIMITED_API of the abi3 build")
    args = parser.parse_args()
    if args.command == "build":
        build(args.workdir, args.limited_api)
        return
    package = "pkg" if args.command == "measure" else "pkg_abi3"
    env = {**os.environ, "PYTHONPATH": os.path.join(args.workdir, package)}
    if args.command == "measure":
        command = [sys.executable, "-c", f"from benchmarks.abi3 import measure; measure({args.rounds})"]
        env["PYTHONPATH"] += os.pathsep + ROOT
    else:
        command = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", os.path.join(ROOT, "tests")]
    sys.exit(subprocess.run(command, env=env, cwd=ROOT).returncode)


if __name__ == "__main__":
    main()
