"""The example applications, served for real, on both twins: SQLite here, PostgreSQL in
test_postgres.py."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import bank
import servers


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
    run = lambda *args: subprocess.run(  # noqa: E731
        [sys.executable, "-m", "examples.fastapi_sqlalchemy.cli", *args],
        env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=60, check=True,
    ).stdout
    assert run("interest", "10") == "credited 15 in interest\n"
    assert run("balances").split() == ["1", "ada", "77", "2", "bob", "88"]


def test_cli_on_an_empty_database_says_how_to_get_accounts(twin_name, tmp_path):
    env = servers.twin_environment(twin_name, DATABASE_URL=f"sqlite:///{tmp_path / 'empty.db'}")
    for command in (["interest", "2"], ["balances"]):
        out = subprocess.run(
            [sys.executable, "-m", "examples.fastapi_sqlalchemy.cli", *command],
            env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=60, check=True,
        ).stdout
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
    out = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=60, check=True
    ).stdout.splitlines()
    assert out[0] == ("cython" if twin_name == "c" else "python")
    assert out[1:] == [
        "(201, {'balance': 10, 'id': 1, 'owner': 'ada'})",
        "(201, {'balance': 0, 'id': 2, 'owner': 'bob'})",
        "(200, {'done': True})",
        "(409, {'detail': 'account 2 has 4, needs 400'})",
        "(404, {'detail': 'no account 99'})",
        "(422, {'detail': 'a transfer moves a positive amount between two accounts'})",
        '(422, {\'detail\': "missing \'amount\'"})',
        "(200, [{'balance': 6, 'id': 1, 'owner': 'ada'}, {'balance': 4, 'id': 2, 'owner': 'bob'}])",
    ]
    assert entries(database) == [(1, -4, "to 2"), (2, 4, "from 1")]  # the 409 left nothing


def test_django_aiohttp_and_celery_examples(twin_name, tmp_path):
    """The three examples in one child process (Django's settings are per process), each on a
    database of its own."""
    script = textwrap.dedent(
        """
        import asyncio, json, os, sys
        import di_scopes

        def show(*values):
            print(json.dumps(values))

        os.environ["DATABASE_URL"] = "sqlite:///django.db"
        from django.test import Client
        from examples.django_sqlalchemy import app as django_example
        client = Client()
        post = lambda path, body: client.post(path, json.dumps(body), content_type="application/json")
        show(post("/accounts", {"owner": "ada", "balance": 10}).status_code, post("/accounts", {"owner": "bob"}).status_code)
        show(post("/transfers", {"source": 1, "target": 2, "amount": 4}).json(), post("/transfers", {"source": 2, "target": 1, "amount": 400}).status_code)
        show(b"".join(client.get("/export").streaming_content).decode())

        from aiohttp.test_utils import TestClient, TestServer
        from examples.aiohttp_sqlalchemy.app import create_app

        async def over_aiohttp():
            app = create_app(database_url="sqlite:///aiohttp.db")
            async with TestClient(TestServer(app, host="127.0.0.1")) as client:
                statuses = [(await client.post("/accounts", json=body)).status for body in ({"owner": "ada", "balance": 10}, {"owner": "bob"})]
                statuses.append((await client.post("/transfers", json={"source": 1, "target": 2, "amount": 4})).status)
                statuses.append((await client.post("/transfers", json={"source": 2, "target": 1, "amount": 400})).status)
                return statuses, await (await client.get("/accounts")).json()
        show(*asyncio.run(over_aiohttp()))

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
    env = servers.twin_environment(twin_name)
    env.pop("DATABASE_URL", None)
    lines = subprocess.run(
        [sys.executable, "-c", script], env=env, cwd=str(tmp_path), capture_output=True, text=True, timeout=120, check=True
    ).stdout.splitlines()
    import json

    assert [json.loads(line) for line in lines] == [
        [201, 201],
        [{"done": True}, 409],
        ["id,owner,balance\n1,ada,6\n2,bob,4\n"],
        [[201, 201, 200, 409], [{"id": 1, "owner": "ada", "balance": 6}, {"id": 2, "owner": "bob", "balance": 4}]],
        ["InsufficientFunds"],
        [10],
    ]
    assert entries(tmp_path / "django.db") == [(1, -4, "to 2"), (2, 4, "from 1")]  # the 409 left nothing
    assert entries(tmp_path / "aiohttp.db") == [(1, -4, "to 2"), (2, 4, "from 1")]
    assert entries(tmp_path / "celery.db") == [(1, 10, "interest 10%"), (2, 0, "interest 10%")]
