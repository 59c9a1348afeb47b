"""The example applications, served for real, on both twins: SQLite here, PostgreSQL in
test_postgres.py."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap
from typing import Any

import bank
import pytest
import servers

pytestmark = pytest.mark.slow


def python_output(args: list[str], env: dict[str, str], cwd: Any, timeout: int = 60) -> str:
    """What ``python ARGS`` prints, run in ``cwd`` with ``env``; its failure fails the test."""
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=str(cwd), capture_output=True, text=True, timeout=timeout, check=True
    ).stdout


def entries(path):
    with sqlite3.connect(path) as connection:
        return connection.execute("SELECT account_id, amount, note FROM entries ORDER BY id").fetchall()


def test_fastapi_example_under_uvicorn(twin_name, tmp_path):
    database = tmp_path / "bank.db"
    env = servers.twin_environment(twin_name, DATABASE_URL=f"sqlite:///{database}")
    with servers.uvicorn_server("examples.fastapi_sqlalchemy.app:app", env, cwd=str(tmp_path)) as base:
        results = bank.workload(base)
    assert results == bank.EXPECTED
    # what committed: the transfer and the statement job's own line; nothing from the failures
    assert entries(database) == [(1, -30, "to 2"), (2, 30, "from 1"), (1, 0, "statement sent")]
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT owner FROM accounts ORDER BY id").fetchall() == [("ada",), ("bob",)]


def test_cli_command_runs_in_its_own_scope(twin_name, tmp_path):
    database = tmp_path / "bank.db"
    env = servers.twin_environment(twin_name, DATABASE_URL=f"sqlite:///{database}")
    with servers.uvicorn_server("examples.fastapi_sqlalchemy.app:app", env, cwd=str(tmp_path)) as base:
        bank.workload(base)

    def run(*args: str) -> str:
        return python_output(["-m", "examples.fastapi_sqlalchemy.cli", *args], env, tmp_path)

    assert run("interest", "10") == "credited 15 in interest\n"
    assert run("balances").split() == ["1", "ada", "77", "2", "bob", "88"]


def test_cli_on_an_empty_database_says_how_to_get_accounts(twin_name, tmp_path):
    env = servers.twin_environment(twin_name, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")
    for command in (["interest", "2"], ["balances"]):
        out = python_output(["-m", "examples.fastapi_sqlalchemy.cli", *command], env, tmp_path)
        assert out.startswith("no accounts yet: open some through the app first") and "POST /accounts" in out


def test_flask_example(twin_name, tmp_path):
    database = tmp_path / "bank.db"
    script = textwrap.dedent(
        """
        from examples.flask_sqlalchemy.app import app
        import di_scopes
        client = app.test_client()

        def call(method, path, body=None):
            response = client.open(path, method=method, json=body)  # the scope has ended here
            return response.status_code, response.get_json(silent=True)

        print(di_scopes.IMPLEMENTATION)
        print(call("POST", "/accounts", {"owner": "ada", "balance": 10}))
        print(call("POST", "/accounts", {"owner": "bob", "balance": 0}))
        print(call("POST", "/transfers", {"source": 1, "target": 2, "amount": 4}))
        print(call("POST", "/transfers", {"source": 2, "target": 1, "amount": 400}))
        print(call("POST", "/transfers", {"source": 1, "target": 99, "amount": 1}))
        print(call("POST", "/transfers", {"source": 1, "target": 2, "amount": -5}))
        print(call("POST", "/transfers", {"source": 1, "target": 2}))
        print(call("GET", "/accounts"))
        """
    )
    env = servers.twin_environment(twin_name, DATABASE_URL=f"sqlite:///{database}")
    out = python_output(["-c", script], env, tmp_path).splitlines()
    assert out[0] == ("cython" if twin_name == "c" else "python")
    assert out[1:] == [
        "(201, {'balance': 10, 'id': 1, 'owner': 'ada'})",
        "(201, {'balance': 0, 'id': 2, 'owner': 'bob'})",
        "(200, {'done': True})",
        "(409, {'detail': 'account 2 has 4, needs 400'})",
        "(404, {'detail': 'no account 99'})",
        "(422, {'detail': 'a transfer moves a positive amount between two accounts'})",
        "(422, {'detail': \"missing 'amount'\"})",
        "(200, [{'balance': 6, 'id': 1, 'owner': 'ada'}, {'balance': 4, 'id': 2, 'owner': 'bob'}])",
    ]
    assert entries(database) == [(1, -4, "to 2"), (2, 4, "from 1")]  # the 409 left nothing


# The calls every web example answers alike, and what it answers (as the Flask example does).
CALLS = [
    ("POST", "/accounts", {"owner": "ada", "balance": 10}),
    ("POST", "/accounts", {"owner": "bob", "balance": 0}),
    ("POST", "/transfers", {"source": 1, "target": 2, "amount": 4}),
    ("POST", "/transfers", {"source": 2, "target": 1, "amount": 400}),
    ("POST", "/transfers", {"source": 1, "target": 99, "amount": 1}),
    ("POST", "/transfers", {"source": 1, "target": 2, "amount": -5}),
    ("POST", "/transfers", {"source": 1, "target": 2}),
    ("GET", "/accounts", None),
]
ANSWERS = [
    [201, {"balance": 10, "id": 1, "owner": "ada"}],
    [201, {"balance": 0, "id": 2, "owner": "bob"}],
    [200, {"done": True}],
    [409, {"detail": "account 2 has 4, needs 400"}],
    [404, {"detail": "no account 99"}],
    [422, {"detail": "a transfer moves a positive amount between two accounts"}],
    [422, {"detail": "missing 'amount'"}],
    [200, [{"balance": 6, "id": 1, "owner": "ada"}, {"balance": 4, "id": 2, "owner": "bob"}]],
]


def test_django_aiohttp_and_celery_examples(twin_name, tmp_path):
    """The three examples in one child process (Django's settings are per process), each on a
    database of its own; Django and aiohttp answer the calls as Flask and FastAPI do."""
    script = textwrap.dedent(
        """
        import asyncio, json, os, sys
        import di_scopes

        CALLS = json.loads(sys.argv[1])

        def show(*values):
            print(json.dumps(values))

        os.environ["DATABASE_URL"] = "sqlite:///django.db"
        from django.test import Client
        from examples.django_sqlalchemy import app as django_example
        client = Client()
        for method, path, body in CALLS:
            if method == "POST":
                response = client.post(path, json.dumps(body), content_type="application/json")
            else:
                response = client.get(path)
            show(response.status_code, response.json())
        show(b"".join(client.get("/export").streaming_content).decode())

        from aiohttp.test_utils import TestClient, TestServer
        from examples.aiohttp_sqlalchemy.app import create_app

        async def over_aiohttp():
            app = create_app(database_url="sqlite:///aiohttp.db")
            async with TestClient(TestServer(app, host="127.0.0.1")) as client:
                for method, path, body in CALLS:
                    response = await client.request(method, path, json=body)
                    show(response.status, await response.json())
        asyncio.run(over_aiohttp())

        os.environ["DATABASE_URL"] = "sqlite:///celery.db"
        from examples.celery_sqlalchemy import tasks
        tasks.app.conf.task_always_eager = True
        with di_scopes.scope():
            tasks.container.accounts().add("ada", 100)
            tasks.container.accounts().add("bob", 0)
        try:
            tasks.transfer.delay(2, 1, 50).get()
        except Exception as error:
            show(type(error).__name__)
        show(tasks.apply_interest.delay(10).get())
        """
    )
    env = servers.twin_environment(twin_name, CELERY_DATA_DIR=str(tmp_path / "celery-data"))
    env.pop("DATABASE_URL", None)
    import json

    lines = python_output(["-c", script, json.dumps(CALLS)], env, tmp_path, timeout=120).splitlines()
    shown = [json.loads(line) for line in lines]
    assert shown[: len(CALLS)] == ANSWERS  # Django
    assert shown[len(CALLS)] == ["id,owner,balance\n1,ada,6\n2,bob,4\n"]
    assert shown[len(CALLS) + 1 : 2 * len(CALLS) + 1] == ANSWERS  # aiohttp
    assert shown[2 * len(CALLS) + 1 :] == [["InsufficientFunds"], [10]]
    assert entries(tmp_path / "django.db") == [(1, -4, "to 2"), (2, 4, "from 1")]  # the errors left nothing
    assert entries(tmp_path / "aiohttp.db") == [(1, -4, "to 2"), (2, 4, "from 1")]
    assert entries(tmp_path / "celery.db") == [(1, 10, "interest 10%"), (2, 0, "interest 10%")]


def test_celery_example_end_to_end_as_documented(twin_name, tmp_path):
    """The README's two commands: a worker (``celery ... worker``) in one process, tasks sent by
    ``python -m examples.celery_sqlalchemy.send`` from others, through the shared folder broker."""
    env = servers.twin_environment(
        twin_name, CELERY_DATA_DIR=str(tmp_path / "celery-data"), DATABASE_URL=f"sqlite:///{tmp_path / 'bank.db'}"
    )
    worker = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "examples.celery_sqlalchemy.tasks",
            "worker",
            "--pool=solo",
            "--loglevel=WARNING",
            "--without-heartbeat",
            "--without-mingle",
            "--without-gossip",
        ],
        env=env,
        cwd=str(servers.ROOT),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )

    def send(*args):
        return subprocess.run(
            [sys.executable, "-m", "examples.celery_sqlalchemy.send", "--timeout", "60", *args],
            env=env,
            cwd=str(servers.ROOT),
            capture_output=True,
            text=True,
            timeout=120,
        )

    try:
        opened = [send("open", "ada", "100"), send("open", "bob", "0")]
        interest = send("interest", "10")
        overdraft = send("transfer", "2", "1", "500")
    finally:
        worker.terminate()
        try:
            output, _ = worker.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            output, _ = worker.communicate()
    assert [(r.returncode, r.stdout.strip()) for r in opened] == [(0, "1"), (0, "2")], output
    assert (interest.returncode, interest.stdout.strip()) == (0, "10"), output
    assert overdraft.returncode == 1 and "InsufficientFunds" in overdraft.stderr
    assert entries(tmp_path / "bank.db") == [(1, 10, "interest 10%"), (2, 0, "interest 10%")]
