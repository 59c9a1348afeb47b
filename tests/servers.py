"""Real servers for the tests, on loopback only and bounded in time: uvicorn, PostgreSQL, Redis."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def twin_environment(twin_name: str, **extra: str) -> dict[str, str]:
    """The environment of a child process that uses the twin ``"c"`` or ``"py"``."""
    env = {**os.environ, **extra}
    env["DI_SCOPES_NO_EXTENSIONS"] = "1" if twin_name == "py" else ""
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


@contextlib.contextmanager
def http_server(
    name: str,
    command: list[str],
    port: int,
    probe: str,
    env: dict[str, str],
    *,
    cwd: str | None = None,
    timeout: float = 30,
) -> Iterator[str]:
    """Run ``command``, a server listening on ``port`` of 127.0.0.1, in a child process until a
    GET of ``probe`` answers; yield its base URL; stop it with SIGINT."""
    process = subprocess.Popen(command, env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited early:\n{process.stdout.read()}")
            try:
                httpx.get(f"{url}{probe}", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not start within {timeout}s") from None
                time.sleep(0.1)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


def uvicorn_server(app: str, env: dict[str, str], *, cwd: str | None = None, timeout: float = 30):
    """Run ``uvicorn app`` on 127.0.0.1 in a child process (see ``http_server``)."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        app,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    return http_server("uvicorn", command, port, "/openapi.json", env, cwd=cwd, timeout=timeout)


def postgres_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, or None."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


@contextlib.contextmanager
def postgres_server(bindir: Path) -> Iterator[str]:
    """A throwaway PostgreSQL server on a unix socket in a temporary directory; yields a
    SQLAlchemy URL (psycopg driver). Runs as the ``postgres`` user when started as root."""
    base = tempfile.mkdtemp(prefix="dipg")
    data, sockets = os.path.join(base, "data"), os.path.join(base, "s")
    os.mkdir(sockets)
    prefix = []
    if os.geteuid() == 0:
        import pwd

        user = pwd.getpwnam("postgres")
        for path in (base, sockets):
            os.chown(path, user.pw_uid, user.pw_gid)
        prefix = ["runuser", "-u", "postgres", "--"]
    log = os.path.join(base, "server.log")

    def run(*command: str) -> None:
        subprocess.run([*prefix, *command], check=True, capture_output=True, text=True, timeout=120)

    try:
        run(str(bindir / "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync")
        options = f"-k {sockets} -c listen_addresses='' -c fsync=off -c max_connections=200"
        run(str(bindir / "pg_ctl"), "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start")
        try:
            yield f"postgresql+psycopg://postgres@/postgres?host={sockets}"
        finally:
            run(str(bindir / "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextlib.contextmanager
def redis_server() -> Iterator[str]:
    """A throwaway Redis server on a loopback port, no persistence; yields its URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("redis-server is not installed")
    port = free_port()
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited early:\n{process.stdout.read()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as connection:
                    connection.sendall(b"PING\r\n")
                    if connection.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start within 30s")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
