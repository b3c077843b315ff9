#!/usr/bin/env python3
"""A demo agent of MCP revision 2026-07-28 for `npm start`: a stock client on the official Python
MCP SDK 2.x (`mcp==2.3.0`, in `.tools/py2`) that connects through the gateway as the SDK does by
default (`server/discover`, no `initialize`), then calls `echo` past its quota.

The SDK does not pay, so neither does this agent's transport: when the gateway refuses a call
in-band (a tool result with isError; its `structuredContent.challenges` carries the offers), the
agent does what docs/PROTOCOL.md §1 and §4 tell any client to do, with the standard library: it
solves the proof of work, redeems it at `verify_url`, sends the token in the header the redemption
names, and calls again. The same steps as tests/python2_client.py, kept short for a demo.

    .tools/py2/bin/python demo/agent_2026.py <gateway URL of the 2026 origin> <API key> <calls>

Each event is one JSON line on stdout, as it happens:
    {"event": "connected", "negotiated": "2026-07-28"}
    {"event": "call", "solved": bool}   served; `solved` when a refusal came first
    {"event": "refused", "error"}        a refusal it could not get through
    {"event": "failed", "error"}         the agent stopped: the SDK raised
"""
from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import sys

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

MAX_HASHES = 1 << 28


def emit(**event: object) -> None:
    print(json.dumps(event), flush=True)


def solve(salt: str, difficulty: int) -> str:
    """The smallest nonce such that SHA-256(salt + nonce) starts with `difficulty` zero bits."""
    for nonce in itertools.count():
        if nonce >= MAX_HASHES:
            raise RuntimeError(f"no solution within {MAX_HASHES} hashes at difficulty {difficulty}")
        digest = hashlib.sha256(f"{salt}{nonce}".encode()).digest()
        if 256 - int.from_bytes(digest, "big").bit_length() >= difficulty:
            return str(nonce)
    raise AssertionError("unreachable")


async def main(url: str, api_key: str, calls: int) -> None:
    identity = {"x-api-key": api_key, "user-agent": "gatehouse-demo-agent-2026/1.0"}
    async with httpx2.AsyncClient(headers=identity, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            emit(event="connected", negotiated=client.protocol_version)
            for n in range(calls):
                message = f"demo-agent-2026 {n}"
                result = await client.call_tool("echo", {"message": message})
                if not result.is_error:
                    emit(event="call", solved=False)
                    continue
                offers = (result.structured_content or {}).get("challenges") or []
                pow_offer = next((c for c in offers if c.get("type") == "pow"), None)
                if pow_offer is None:
                    emit(event="refused", error="a refusal without a proof of work to solve")
                    continue
                nonce = solve(pow_offer["salt"], pow_offer["difficulty"])
                # Redeemed with the same identity (API key, User-Agent) the token will be used with.
                async with httpx2.AsyncClient(headers=identity, timeout=30) as redeemer:
                    redeemed = await redeemer.post(
                        pow_offer["verify_url"],
                        json={"challenge_id": pow_offer["challenge_id"], "solution": {"nonce": nonce}},
                    )
                grant = redeemed.json()
                if "access_token" not in grant:
                    emit(event="refused", error=f"redemption answered {redeemed.status_code} {grant.get('error')}")
                    continue
                http.headers[grant.get("header", "x-access-token")] = grant["access_token"]
                again = await client.call_tool("echo", {"message": message})
                if again.is_error:
                    emit(event="refused", error="refused again after redeeming")
                else:
                    emit(event="call", solved=True)


if __name__ == "__main__":
    try:
        asyncio.run(main(sys.argv[1], sys.argv[2], int(sys.argv[3])))
    except Exception as e:  # noqa: BLE001 (what the SDK raised is the report)
        inner = e
        while getattr(inner, "exceptions", None):
            inner = inner.exceptions[0]
        emit(event="failed", error=f"{type(inner).__name__}: {inner}"[:200])
