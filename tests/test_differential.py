"""Differential test: generated scope programs run on both twins must leave the same trace.

A program is a tree of statements over a catalogue of scoped providers of every kind (generators
that fail to set up or tear down, yield twice or never, or swallow the exception; context
managers; async generators, async context managers and coroutines; singletons; plain callables),
some bound to named scopes, some injecting others. Statements open nested named, exclusive, sync
and async scopes, resolve (in the caller, in a worker thread, or in tasks at once), reset or shut
down, override, raise every kind of exception, catch, and run while an exception is handled. The
trace records what was created and torn down, in order, each result by instance identity, each
exception with its type, message, notes, cause and context, and each warning. A difference is a
bug in one twin.

``DI_SCOPES_DIFFERENTIAL_EXAMPLES`` sets how many programs run (a few seconds' worth by default;
the ``differential`` nox session runs many more).
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import importlib
import os
import re
import sys
import threading
import warnings
from inspect import isawaitable

import pytest
from dependency_injector import providers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import c_extensions_expected

EXAMPLES = int(os.environ.get("DI_SCOPES_DIFFERENTIAL_EXAMPLES", "60"))

KINDS = [
    "gen",
    "gen_fail_setup",
    "gen_fail_teardown",
    "gen_twice",
    "gen_never",
    "gen_swallow",
    "cm",
    "cm_swallow",
    "agen",
    "agen_suspends",
    "agen_fail_teardown",
    "acm",
    "coroutine",
    "singleton",
    "plain",
]
SCOPE_NAMES = ["request", "outer", "inner"]
RAISES = {
    "KeyError": lambda: KeyError("raised"),
    "ValueError": lambda: ValueError("raised"),
    "KeyboardInterrupt": lambda: KeyboardInterrupt("raised"),
    "SystemExit": lambda: SystemExit(3),
    "CancelledError": lambda: asyncio.CancelledError("raised"),
    "GeneratorExit": lambda: GeneratorExit("raised"),
    "StopIteration": lambda: StopIteration("raised"),
    "ExceptionGroup": lambda: BaseExceptionGroup("raised", [ValueError("one"), KeyError("two")]),
}

try:
    BaseExceptionGroup  # noqa: B018 - a probe
except NameError:  # Python 3.10
    from exceptiongroup import BaseExceptionGroup


# The catalogue -------------------------------------------------------------------------------


class Instance:
    def __init__(self, label, deps):
        self.label = label if not deps else f"{label}({', '.join(norm(d) for d in deps)})"

    def __repr__(self):
        return self.label


class Catalogue:
    """One twin's providers for one program, and the log they write."""

    def __init__(self, twin, specs):
        self.log = []
        self.serial = 0
        self.providers = []
        for index, (kind, binding, deps) in enumerate(specs):
            factory = self.factory(kind, f"P{index}")
            injected = [self.providers[d] for d in deps]
            if kind == "singleton":
                provider = twin.ContextLocalSingleton(factory, *injected)
            else:
                provider = twin.ContextLocalResource(factory, *injected)
            if binding is not None:
                provider.in_scope(binding)
            self.providers.append(provider)

    def new(self, name, deps):
        self.serial += 1
        return Instance(f"{name}#{self.serial}", deps)

    def factory(self, kind, name):
        log, new = self.log, self.new

        def gen(*deps):
            instance = new(name, deps)
            log.append(f"open {instance}")
            try:
                yield instance
                log.append(f"commit {instance}")
            except BaseException as error:
                log.append(f"rollback {instance} {type(error).__name__}")
                raise

        def gen_fail_setup(*deps):
            log.append(f"fail to open {name}")
            raise ValueError(f"{name} cannot open")
            yield  # pragma: no cover

        def gen_fail_teardown(*deps):
            instance = new(name, deps)
            try:
                yield instance
            finally:
                log.append(f"fail to close {instance}")
                raise OSError(f"{instance} cannot close")

        def gen_twice(*deps):
            instance = new(name, deps)
            yield instance
            log.append(f"yield again {instance}")
            yield instance

        def gen_never(*deps):
            log.append(f"never yield {name}")
            return
            yield  # pragma: no cover

        def gen_swallow(*deps):
            instance = new(name, deps)
            try:
                yield instance
            except BaseException as error:
                log.append(f"swallow {instance} {type(error).__name__}")

        class CM:
            swallow = False

            def __init__(self, *deps):
                self.instance = new(name, deps)

            def __enter__(self):
                log.append(f"enter {self.instance}")
                return self.instance

            def __exit__(self, exc_type, exc, tb):
                log.append(f"exit {self.instance} {getattr(exc_type, '__name__', None)}")
                return self.swallow

        class CMSwallow(CM):
            swallow = True

        async def agen(*deps):
            instance = new(name, deps)
            log.append(f"aopen {instance}")
            try:
                yield instance
                log.append(f"acommit {instance}")
            except BaseException as error:
                log.append(f"arollback {instance} {type(error).__name__}")
                raise

        async def agen_suspends(*deps):
            await asyncio.sleep(0)
            instance = new(name, deps)
            log.append(f"aopen {instance}")
            try:
                yield instance
            finally:
                await asyncio.sleep(0)
                log.append(f"aclose {instance}")

        async def agen_fail_teardown(*deps):
            instance = new(name, deps)
            try:
                yield instance
            finally:
                log.append(f"fail to aclose {instance}")
                raise OSError(f"{instance} cannot aclose")

        class ACM:
            def __init__(self, *deps):
                self.instance = new(name, deps)

            async def __aenter__(self):
                log.append(f"aenter {self.instance}")
                return self.instance

            async def __aexit__(self, exc_type, exc, tb):
                log.append(f"aexit {self.instance} {getattr(exc_type, '__name__', None)}")

        async def coroutine(*deps):
            return new(name, deps)

        def plain(*deps):
            return new(name, deps)

        return {
            "gen": gen,
            "gen_fail_setup": gen_fail_setup,
            "gen_fail_teardown": gen_fail_teardown,
            "gen_twice": gen_twice,
            "gen_never": gen_never,
            "gen_swallow": gen_swallow,
            "cm": CM,
            "cm_swallow": CMSwallow,
            "agen": agen,
            "agen_suspends": agen_suspends,
            "agen_fail_teardown": agen_fail_teardown,
            "acm": ACM,
            "coroutine": coroutine,
            "singleton": plain,
            "plain": plain,
        }[kind]


# Normalizing ----------------------------------------------------------------------------------

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_TWIN = re.compile(r"_scope_(c|py)\b")


def text(value):
    return _TWIN.sub("_scope_?", _ADDRESS.sub("0x?", str(value)))


def norm(value):
    if isinstance(value, Instance):
        return value.label
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(norm(v) for v in value) + "]"
    return text(repr(value))


def note_lines(note):
    """A note without the frames of the traceback it may hold (those differ between twins)."""
    return [
        text(line)
        for line in note.splitlines()
        if line and not line[0].isspace() and not line.startswith("Traceback (most recent call last)")
    ]


def describe(error, depth=0):
    parts = [f"{type(error).__name__}: {text(error)}"]
    for note in getattr(error, "__notes__", ()):
        parts.append(f"note {note_lines(note)}")
    if isinstance(error, BaseExceptionGroup):
        parts.append("group [" + "; ".join(describe(e, depth + 1) for e in error.exceptions) + "]")
    if depth < 2:
        if error.__cause__ is not None:
            parts.append(f"cause ({describe(error.__cause__, depth + 1)})")
        if error.__context__ is not None and not error.__suppress_context__:
            parts.append(f"context {type(error.__context__).__name__}")
    return " | ".join(parts)


# Running ----------------------------------------------------------------------------------------


class Run:
    def __init__(self, twin, specs):
        self.twin = twin
        self.catalogue = Catalogue(twin, specs)
        self.log = self.catalogue.log
        self.providers = self.catalogue.providers

    def outcome(self, label, value):
        self.log.append(f"{label} -> {norm(value)}")

    def failure(self, label, error):
        self.log.append(f"{label} !! {describe(error)}")

    # sync

    def run_sync(self, statements):
        for statement in statements:
            self.sync_statement(statement)

    def sync_statement(self, statement):
        op = statement[0]
        if op == "scope":
            _, name, exclusive, _, body = statement
            with self.twin.scope(name, exclusive=exclusive):
                self.run_sync(body)
        elif op == "catch":
            try:
                self.run_sync(statement[1])
            except BaseException as error:  # noqa: B902 - recording it is the point
                self.failure("caught", error)
        elif op == "handling":  # the body runs while an exception is being handled
            try:
                raise LookupError("being handled")
            except LookupError:
                self.run_sync(statement[1])
        elif op == "override":
            _, index, body = statement
            with self.providers[index].override(providers.Object(f"override of P{index}")):
                self.run_sync(body)
        elif op == "raise":
            raise RAISES[statement[1]]()
        else:
            self.call(op, statement[1], self.sync_value)

    def sync_value(self, op, provider):
        if op == "thread":
            box = []
            context = contextvars.copy_context()

            def target():
                try:
                    box.append((True, provider()))
                except BaseException as error:  # noqa: B902
                    box.append((False, error))

            thread = threading.Thread(target=context.run, args=(target,))
            thread.start()
            thread.join(10)
            assert not thread.is_alive(), "a resolve in a worker thread hangs"
            ok, value = box[0]
            if not ok:
                raise value
        elif op == "reset":
            value = provider.reset() if isinstance(provider, self.twin.ContextLocalSingleton) else provider.shutdown()
            if isinstance(provider, self.twin.ContextLocalSingleton):
                value = None
        else:
            value = provider()
        if isawaitable(value):
            close = getattr(value, "close", None)
            if close is not None:
                close()
            return "<awaitable>"
        return value

    def call(self, op, index, get):
        label = f"{op} P{index}"
        try:
            value = get(op, self.providers[index])
        except BaseException as error:  # noqa: B902
            self.failure(label, error)
        else:
            self.outcome(label, value)

    # async

    async def run_async(self, statements):
        for statement in statements:
            await self.async_statement(statement)

    async def async_statement(self, statement):
        op = statement[0]
        if op == "scope":
            _, name, exclusive, is_async, body = statement
            if is_async:
                async with self.twin.scope(name, exclusive=exclusive):
                    await self.run_async(body)
            else:
                with self.twin.scope(name, exclusive=exclusive):
                    await self.run_async(body)
        elif op == "catch":
            try:
                await self.run_async(statement[1])
            except BaseException as error:  # noqa: B902
                self.failure("caught", error)
        elif op == "handling":
            try:
                raise LookupError("being handled")
            except LookupError:
                await self.run_async(statement[1])
        elif op == "override":
            _, index, body = statement
            with self.providers[index].override(providers.Object(f"override of P{index}")):
                await self.run_async(body)
        elif op == "raise":
            raise RAISES[statement[1]]()
        elif op == "gather":
            label = f"gather {statement[1]}"
            try:
                values = await asyncio.gather(*(self.async_value("resolve", self.providers[i]) for i in statement[1]))
            except BaseException as error:  # noqa: B902
                self.failure(label, error)
            else:
                self.outcome(label, values)
        else:
            label = f"{op} P{statement[1]}"
            try:
                value = await self.async_value(op, self.providers[statement[1]])
            except BaseException as error:  # noqa: B902
                self.failure(label, error)
            else:
                self.outcome(label, value)

    async def async_value(self, op, provider):
        if op == "thread":
            value = await asyncio.to_thread(provider)
        elif op == "reset":
            if isinstance(provider, self.twin.ContextLocalSingleton):
                provider.reset()
                return None
            value = provider.shutdown()
        else:
            value = provider()
        if isawaitable(value):
            value = await value
        return value


async def holding_abandoned(program, failure):
    """Run ``program`` (``failure`` records what it raises) with asyncio's async-generator hooks
    replaced, then close the generators it left unfinished (a sync close of an async resource
    abandons them) in the order they started; the finalizer hook only keeps them alive until then.

    asyncio's own finalizer closes an abandoned generator in a task of its own, scheduled when the
    last reference goes: when that is, and whether the task ends before asyncio.run cancels it,
    depends on how long each twin holds its references, not on what the program does."""
    started, abandoned = [], []
    previous = sys.get_asyncgen_hooks()
    sys.set_asyncgen_hooks(firstiter=started.append, finalizer=abandoned.append)
    try:
        try:
            await program
        except BaseException as error:  # noqa: B902 - not out of asyncio.run
            failure(error)
    finally:
        sys.set_asyncgen_hooks(*previous)
        for generator in started:
            if generator.ag_frame is not None:  # not finished: abandoned
                try:
                    await generator.aclose()
                except BaseException:  # noqa: B902 - its teardown's own error, as asyncio would log it
                    pass
        started.clear()
        abandoned.clear()


def run_program(twin, specs, program, is_async):
    run = Run(twin, specs)

    def main():
        try:
            if is_async:

                async def body():
                    await holding_abandoned(run.run_async(program), lambda error: run.failure("program", error))

                asyncio.run(body())
            else:
                run.run_sync(program)
        except BaseException as error:  # noqa: B902
            run.failure("program", error)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        contextvars.copy_context().run(main)
        gc.collect(1)  # what the program left in cycles (a full collection would cost ~100 ms)
    run.log.extend(f"warning {w.category.__name__}: {text(w.message)}" for w in caught)
    return run.log


# Generating ------------------------------------------------------------------------------------


@st.composite
def catalogues(draw):
    count = draw(st.integers(1, 6))
    specs = []
    for index in range(count):
        kind = draw(st.sampled_from(KINDS))
        binding = draw(st.sampled_from([None, None, None, "outer", "inner"]))
        deps = draw(st.lists(st.integers(0, index - 1), max_size=2, unique=True)) if index else []
        specs.append((kind, binding, deps))
    return specs


def statements(count, is_async, depth=0):
    index = st.integers(0, count - 1)
    leaves = [
        st.tuples(st.just("resolve"), index),
        st.tuples(st.just("resolve"), index),
        st.tuples(st.just("resolve"), index),
        st.tuples(st.just("resolve"), index),
        st.tuples(st.just("thread"), index),
        st.tuples(st.just("reset"), index),
        st.tuples(st.just("raise"), st.sampled_from(sorted(RAISES))),
    ]
    if is_async:
        leaves.append(st.tuples(st.just("gather"), st.lists(index, min_size=2, max_size=3)))
    options = list(leaves)
    if depth < 3:
        body = st.deferred(lambda: st.lists(statements(count, is_async, depth + 1), max_size=5))
        options += [
            st.tuples(
                st.just("scope"),
                st.sampled_from(SCOPE_NAMES),
                st.booleans(),
                st.booleans() if is_async else st.just(False),
                body,
            ),
            st.tuples(st.just("scope"), st.sampled_from(SCOPE_NAMES), st.just(False), st.just(is_async), body),
            st.tuples(st.just("catch"), body),
            st.tuples(st.just("handling"), body),
            st.tuples(st.just("override"), index, body),
        ]
    return st.one_of(options)


@st.composite
def programs(draw):
    specs = draw(catalogues())
    is_async = draw(st.sampled_from([False, True, True]))
    body = draw(st.lists(statements(len(specs), is_async), min_size=1, max_size=6))
    # Most programs do their work inside scopes, caught when their body raises.
    for name in draw(
        st.sampled_from([[], ["request"], ["request"], ["inner", "outer"], ["inner", "request", "outer"]])
    ):
        body = [("catch", [("scope", name, False, is_async, body)])]
    return specs, body, is_async


@pytest.fixture(scope="module")
def both_twins(request):
    if not c_extensions_expected(request.config):
        pytest.skip("the differential test needs the compiled twin, deselected by --no-c-extensions")
    return importlib.import_module("di_scopes._scope_c"), importlib.import_module("di_scopes._scope_py")


@pytest.fixture(params=["scanned", "indexed"])
def compared_twins(request, both_twins):
    """Both twins; "indexed" makes the compiled twin index a scope's entries from the first one
    (it does past eight, and the programs use fewer providers)."""
    if request.param == "scanned":
        yield both_twins
        return
    compiled, _ = both_twins
    previous = compiled._set_index_from(0)
    try:
        yield both_twins
    finally:
        compiled._set_index_from(previous)


@pytest.mark.slow
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture, HealthCheck.data_too_large],
)
@given(program=programs())
def test_both_twins_leave_the_same_trace(compared_twins, program):
    specs, body, is_async = program
    compiled, pure = compared_twins
    assert run_program(compiled, specs, body, is_async) == run_program(pure, specs, body, is_async)


def test_the_trace_sees_what_it_compares(both_twins):
    """The recorder is not blind: a program's trace holds instances, teardown order, errors with
    their notes, and warnings."""
    specs = [("gen", None, []), ("gen_fail_teardown", None, [0]), ("agen", None, [])]
    body = [
        (
            "catch",
            [
                (
                    "scope",
                    "request",
                    False,
                    False,
                    [("resolve", 0), ("resolve", 1), ("resolve", 1), ("raise", "KeyError")],
                )
            ],
        ),
        ("catch", [("scope", "request", False, False, [("resolve", 2)])]),
    ]
    for twin in both_twins:
        trace = run_program(twin, specs, body, False)
        assert trace[:4] == ["open P0#1", "resolve P0 -> P0#1", "resolve P1 -> P1#2(P0#1)", "resolve P1 -> P1#2(P0#1)"]
        assert trace[4:6] == ["fail to close P1#2(P0#1)", "rollback P0#1 KeyError"]
        assert trace[6].startswith("caught !! KeyError: 'raised' | note ['tearing down ContextLocalResource(")
        assert "OSError: P1#2(P0#1) cannot close" in trace[6]
        assert trace[7].startswith("resolve P2 !! ScopeError: ContextLocalResource(")
    async_body = [("scope", "request", False, False, [("resolve", 2)])]
    for twin in both_twins:
        trace = run_program(twin, specs, async_body, True)
        assert trace[0] == "aopen P2#1" and trace[1] == "resolve P2 -> P2#1"
        assert trace[2].startswith("program !! ScopeError: scope 'request' was closed synchronously")
        assert [line for line in trace if line.startswith("warning")] == []
