"""Instructions per request of the HTTP benchmark's applications, in process, with callgrind.

Wall time over a real server is noisy on shared machines; this drives each application's ASGI
callable directly (no server, no sockets) with the same request N1 and N2 times under callgrind,
and divides the difference of the totals by N2 - N1. What remains is the application's work per
request: FastAPI's routing, the wiring, the session, the database round trip, the response.

    python -m benchmarks.http.inprocess                          # every variant of both endpoints
    python -m benchmarks.http.inprocess -v async-manual -v async-di-scopes-fast --profile

``python -m benchmarks.http.inprocess run VARIANT N`` is what runs under valgrind.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

from ..callgrind import count, functions
from .apps import ENDPOINTS

_REQUEST = {
    "type": "http",
    "asgi": {"version": "3.0", "spec_version": "2.3"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/",
    "raw_path": b"/",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"127.0.0.1")],
    "client": ("127.0.0.1", 50000),
    "server": ("127.0.0.1", 8000),
    "state": {},
}


def run(variant: str, requests: int) -> None:
    """Serve ``requests`` requests to one variant (the process that valgrind measures)."""
    import asyncio
    import gc

    from .apps import build

    app = build(variant)

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def serve(count: int) -> None:
        statuses = []

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        for _ in range(count):
            await app(dict(_REQUEST, state={}), receive, send)
        if statuses != [200] * count:
            raise SystemExit(f"{variant}: statuses {sorted(set(statuses))}")

    async def main() -> None:
        lifespan = app.router.lifespan_context(app)
        async with lifespan:
            await serve(10)  # warm-up: first-request work, caches, specialised bytecode
            gc.collect()
            gc.freeze()
            try:
                await serve(requests)
            finally:
                gc.unfreeze()

    asyncio.run(main())


def callgrind(variant: str, requests: int, out: str) -> int:
    return count(["benchmarks.http.inprocess", "run", variant, str(requests)], out)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "run":
        _, variant, requests = argv
        run(variant, int(requests))
        return
    parser = argparse.ArgumentParser(prog="python -m benchmarks.http.inprocess", description=__doc__.split("\n\n")[0])
    parser.add_argument("-v", "--variant", action="append", help="variant name (repeatable; default: all)")
    parser.add_argument("--n1", type=int, default=50)
    parser.add_argument("--n2", type=int, default=250)
    parser.add_argument("--profile", action="store_true", help="per-function instructions per request")
    parser.add_argument("--inclusive", action="store_true", help="with --profile: inclusive costs")
    parser.add_argument("--top", type=int, default=30, help="functions shown with --profile")
    args = parser.parse_args(argv)
    floors: dict[str, float] = {}
    for endpoint, spec in ENDPOINTS.items():
        variants = [v for v in spec["variants"] if args.variant is None or v in args.variant or v == spec["floor"]]
        variants.sort(key=lambda v: v != spec["floor"])  # the floor first
        for variant in variants:
            with tempfile.TemporaryDirectory() as tmp:
                first, second = os.path.join(tmp, "n1.out"), os.path.join(tmp, "n2.out")
                per_request = (callgrind(variant, args.n2, second) - callgrind(variant, args.n1, first)) / (
                    args.n2 - args.n1
                )
                if variant == spec["floor"]:
                    floors[endpoint] = per_request
                over = per_request - floors[endpoint]
                print(
                    f"{endpoint:6} {variant:26} {per_request:12,.0f} instructions per request"
                    f"  {over:+10,.0f} over the floor  ({floors[endpoint] / per_request:6.1%} of its requests/s)",
                    flush=True,
                )
                if args.profile and (args.variant is None or variant in args.variant):
                    before, after = functions(first, args.inclusive), functions(second, args.inclusive)
                    diffs = [
                        (n, (after.get(n, 0) - before.get(n, 0)) / (args.n2 - args.n1))
                        for n in set(before) | set(after)
                    ]
                    for name, cost in sorted(diffs, key=lambda d: -d[1])[: args.top]:
                        print(f"    {cost:10,.1f}  {name}")


if __name__ == "__main__":
    main()
