"""Benchmarks of di-scopes against dependency-injector's context-local providers and peer libraries.

``pytest benchmarks/`` runs them (they are not part of the test suite); ``python -m
benchmarks.report`` turns the latest results into ``docs/benchmarks.md`` and ``docs/benchmarks.png``.
"""
