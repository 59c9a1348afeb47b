"""The README's demo runs and tells the truth, on both twins."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

DEMO = Path(__file__).parent.parent / "examples" / "demo.py"


def test_demo_commits_rolls_back_and_shares_sessions(impl):
    twin = impl.__name__.rsplit("_", 1)[-1]
    env = {**os.environ, "DI_SCOPES_NO_EXTENSIONS": "1" if twin == "py" else ""}
    env.pop("DATABASE_URL", None)
    out = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, env=env, timeout=120, check=True
    ).stdout
    assert ("(cython twin)" if twin == "c" else "(python twin)") in out
    assert "signup('ada'): ok\n    session 1: commit, close" in out
    assert "signup('ada'): failed: duplicate name\n    session 3: rollback, close" in out
    assert "same session in the threads: True\n    session 4: commit, close" in out
    assert "committed users: ['ada', 'grace', 'linus']" in out
    assert "outside a request: ScopeError" in out


def test_demo_on_postgresql(impl, postgres_url):
    """The README invites DATABASE_URL: the demo runs on PostgreSQL as on SQLite."""
    twin = impl.__name__.rsplit("_", 1)[-1]
    env = {**os.environ, "DI_SCOPES_NO_EXTENSIONS": "1" if twin == "py" else "", "DATABASE_URL": postgres_url}
    out = subprocess.run(
        [sys.executable, str(DEMO)], capture_output=True, text=True, env=env, timeout=120, check=True
    ).stdout
    assert "signup('ada'): failed: duplicate name\n    session 3: rollback, close" in out
    assert "committed users: ['ada', 'grace', 'linus']" in out
