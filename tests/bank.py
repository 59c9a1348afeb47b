"""The example bank's workload, for the tests that run the example application."""

from __future__ import annotations

import asyncio

import httpx


def workload(base: str) -> dict:
    """Exercise every path of the example over HTTP; return what the test checks."""
    with httpx.Client(base_url=base, timeout=30) as client:
        ada = client.post("/accounts", json={"owner": "ada", "balance": 100}).json()
        bob = client.post("/accounts", json={"owner": "bob", "balance": 50}).json()
        results = {
            "transfer": client.post(
                "/transfers", json={"source": ada["id"], "target": bob["id"], "amount": 30}
            ).status_code,
            "overdraft": client.post(
                "/transfers", json={"source": bob["id"], "target": ada["id"], "amount": 999}
            ).status_code,
            "unknown": client.post("/transfers", json={"source": ada["id"], "target": 999, "amount": 1}).status_code,
            "invalid": client.post(
                "/transfers", json={"source": ada["id"], "target": ada["id"], "amount": 1}
            ).status_code,
            # uvicorn drops the connection after an unhandled error: do not reuse it
            "crash": client.post(
                "/crash", json={"owner": "eve", "balance": 1}, headers={"Connection": "close"}
            ).status_code,
            "missing": client.get("/accounts/999").status_code,
            "statement": client.post(f"/accounts/{ada['id']}/statement").status_code,
            "export": client.get("/export").text,
            "accounts": {a["owner"]: a["balance"] for a in client.get("/accounts").json()},
        }
    return results


EXPECTED = {
    "transfer": 200,
    "overdraft": 409,
    "unknown": 404,
    "invalid": 422,
    "crash": 500,
    "missing": 404,
    "statement": 202,
    "export": "id,owner,balance\n1,ada,70\n2,bob,80\n",
    "accounts": {"ada": 70, "bob": 80},
}


def concurrent_transfers(base: str, first: int, second: int, count: int) -> list:
    """``count`` transfers of 1 between the two accounts, half each way, all at once."""

    async def run():
        limits = httpx.Limits(max_connections=100)
        async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as client:
            orders = [
                {"source": first, "target": second, "amount": 1}
                if i % 2
                else {"source": second, "target": first, "amount": 1}
                for i in range(count)
            ]
            responses = await asyncio.gather(*(client.post("/transfers", json=order) for order in orders))
            return [r.status_code for r in responses]

    return asyncio.run(run())
