"""HTTP benchmark: two endpoints, each wired several ways, served by uvicorn, loaded by wrk.

    python -m benchmarks.http                      # 3 rounds of 10 s per variant, ~10 minutes
    python -m benchmarks.http --endpoint async     # only the async-session endpoint's variants
    python -m benchmarks.http --duration 1 --rounds 1 --output -   # smoke run

The sync-session endpoint has eight variants, the async-session endpoint (``AsyncSession``, a
service over a repository) six, named ``async-...`` (see ``apps.py``). Everything runs on
127.0.0.1 and stops by itself. Each variant gets one uvicorn worker; on a machine with two or more
cores the server is pinned to one core and wrk to another. Rounds interleave the variants of both
endpoints, so drift in the machine's speed spreads over all of them; the report gives, per
endpoint, each variant's median requests/s, the lowest and highest round, and the median's share
of that endpoint's hand-wired floor ("manual", "async-manual").
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

import httpx

from .apps import ASYNC_VARIANTS, ENDPOINTS, VARIANTS

ROOT = Path(__file__).resolve().parents[2]


def pinned(command: list[str], core: int | None) -> list[str]:
    if core is None or shutil.which("taskset") is None:
        return command
    return ["taskset", "-c", str(core), *command]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """One uvicorn worker serving one variant on 127.0.0.1."""

    def __init__(self, variant: str, core: int | None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = {**os.environ, "BENCH_VARIANT": variant}
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
        command = [
            sys.executable,
            "-m",
            "uvicorn",
            "benchmarks.http.apps:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            "1",
            "--log-level",
            "warning",
            "--no-access-log",
        ]
        self.process = subprocess.Popen(
            pinned(command, core), env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )

    def __enter__(self) -> Server:
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited:\n{self.process.stdout.read()}")
            try:
                response = httpx.get(self.url, timeout=2)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise RuntimeError("the server did not start within 30 s") from None
                time.sleep(0.1)
        if response.status_code != 200 or response.json() != {"one": 1}:
            raise RuntimeError(f"the endpoint answered {response.status_code}: {response.text}")
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.process.send_signal(signal.SIGINT)
        try:
            self.process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.communicate()


def wrk(url: str, seconds: float, connections: int, core: int | None) -> float:
    """Requests per second from one wrk run; every response must be a 200."""
    command = ["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--timeout", "10s", url]
    out = subprocess.run(pinned(command, core), capture_output=True, text=True, timeout=seconds + 60, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    if "Non-2xx" in out or "Socket errors" in out or rate == 0:
        raise RuntimeError(f"wrk saw failed requests:\n{out}")
    return rate


def versions() -> dict[str, str]:
    found = {}
    for name in (
        "di-scopes",
        "dependency-injector",
        "fastapi",
        "starlette",
        "uvicorn",
        "SQLAlchemy",
        "aiosqlite",
        "dishka",
        "wireup",
    ):
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def endpoint_of(variant: str) -> str:
    return next(name for name, endpoint in ENDPOINTS.items() if variant in endpoint["variants"])


def selected(endpoint: str, variants: list[str] | None) -> list[str]:
    """The variants to run, in declaration order, each endpoint's floor included."""
    endpoints = list(ENDPOINTS) if endpoint == "both" else [endpoint]
    chosen = set(variants or VARIANTS + ASYNC_VARIANTS)
    order = []
    for name in endpoints:
        wanted = [variant for variant in ENDPOINTS[name]["variants"] if variant in chosen]
        if wanted:
            floor = ENDPOINTS[name]["floor"]
            order += [floor] + [variant for variant in wanted if variant != floor]
    if not order:
        raise SystemExit(f"none of {', '.join(variants or [])} belongs to the {endpoint} endpoint")
    return order


def summary(samples: dict[str, list[float]]) -> list[dict[str, object]]:
    """Per endpoint: each variant's median, lowest and highest round, and share of the floor."""
    tables = []
    for name, endpoint in ENDPOINTS.items():
        measured = [variant for variant in samples if endpoint_of(variant) == name]
        if not measured:
            continue
        floor = statistics.median(samples[endpoint["floor"]])
        rows = []
        for variant in measured:
            runs = samples[variant]
            median = statistics.median(runs)
            rows.append(
                {
                    "variant": variant,
                    "requests_per_second": median,
                    "min": min(runs),
                    "max": max(runs),
                    "share_of_floor": median / floor,
                    "runs": runs,
                }
            )
        tables.append({"endpoint": name, "floor": endpoint["floor"], "rows": rows})
    return tables


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="HTTP benchmark of the wiring variants (loopback only)")
    parser.add_argument("--duration", type=float, default=10, help="seconds of load per run (default 10)")
    parser.add_argument("--rounds", type=int, default=3, help="runs per variant, interleaved (default 3)")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections (default 32)")
    parser.add_argument(
        "--endpoint",
        choices=("sync", "async", "both"),
        default="both",
        help="the sync-session endpoint's variants, the async-session endpoint's, or both (default)",
    )
    parser.add_argument(
        "--variants", nargs="+", choices=VARIANTS + ASYNC_VARIANTS, help="default: all of the endpoint's"
    )
    parser.add_argument(
        "--output", default=str(ROOT / "docs" / "http.json"), help="JSON results file, or - (default docs/http.json)"
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not installed (Debian/Ubuntu: apt-get install wrk)")
    variants = selected(args.endpoint, args.variants)

    cores = os.cpu_count() or 1
    server_core, load_core = (0, 1) if cores >= 2 else (None, None)
    import di_scopes

    samples: dict[str, list[float]] = {variant: [] for variant in variants}
    for round_number in range(args.rounds):
        shift = round_number % len(variants)
        for variant in variants[shift:] + variants[:shift]:
            with Server(variant, server_core) as server:
                wrk(server.url, 1, args.connections, load_core)  # warm up
                samples[variant].append(wrk(server.url, args.duration, args.connections, load_core))
            print(
                f"round {round_number + 1}/{args.rounds} {variant:<26} {samples[variant][-1]:>9.0f} req/s", flush=True
            )

    tables = summary(samples)
    for table in tables:
        print(f"\n{table['endpoint']}-session endpoint")
        print(f"{'variant':<26} {'req/s':>9} {'lowest-highest':>17} {'share of ' + table['floor']:>22}")
        for row in table["rows"]:
            spread = f"{row['min']:.0f}-{row['max']:.0f}"
            print(
                f"{row['variant']:<26} {row['requests_per_second']:>9.0f} {spread:>17} {row['share_of_floor']:>21.1%}"
            )
    results = {
        "machine": f"{platform.machine()}, {cores} cores, {platform.platform()}",
        "python": platform.python_version(),
        "implementation": di_scopes.IMPLEMENTATION,
        "versions": versions(),
        "settings": {
            "duration": args.duration,
            "rounds": args.rounds,
            "connections": args.connections,
            "pinned": server_core is not None,
        },
        "endpoints": tables,
    }
    if args.output != "-":
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(json.dumps(results, indent=2) + "\n")
        print(f"\nwritten to {args.output}")


if __name__ == "__main__":
    main()
