"""An `httpx.Auth` flow that gets agents through a Gatehouse 402, for the official Python MCP SDK.

    import httpx
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from gatehouse_auth import GatehouseAuth

    async with httpx.AsyncClient(auth=GatehouseAuth()) as http:
        async with streamable_http_client(url, http_client=http) as (read, write, _):
            async with ClientSession(read, write) as session:
                ...  # 402s are solved, redeemed and retried underneath

On a 402 it solves the proof of work (with the client kit's `gatehouse-solve` when it is on PATH,
else with hashlib), redeems it at `verify_url` with the request's own identifying headers, keeps
the access token, and retries with it in `x-access-token`. A token the gateway calls invalid or
expired is dropped. Response bodies are read only for 402 and 401, so SSE streams stay streams.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import typing

import httpx

TOKEN_HEADER = "x-access-token"
IDENTITY_HEADERS = ("user-agent", "authorization", "x-api-key")


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


def solve(salt: str, difficulty: int) -> str:
    """The nonce for a challenge: `sha256(salt + nonce)` with `difficulty` leading zero bits."""
    solver = shutil.which("gatehouse-solve")
    if solver:
        out = subprocess.run([solver, "solve", salt, str(difficulty)], capture_output=True, text=True, check=True)
        return json.loads(out.stdout)["nonce"]
    nonce = 0
    while leading_zero_bits(hashlib.sha256(f"{salt}{nonce}".encode()).digest()) < difficulty:
        nonce += 1
    return str(nonce)


class GatehouseAuth(httpx.Auth):
    def __init__(self, max_rounds: int = 3, on_event: typing.Callable[[dict], None] | None = None):
        self.max_rounds = max_rounds
        self.token: str | None = None
        self.on_event = on_event or (lambda _event: None)

    def _prepare(self, request: httpx.Request) -> None:
        # This client acts on HTTP 402, so the gateway should never answer it in-band.
        request.headers["gatehouse-accept"] = "402"
        if self.token:
            request.headers[TOKEN_HEADER] = self.token
        elif TOKEN_HEADER in request.headers:
            del request.headers[TOKEN_HEADER]

    def _redemption(self, request: httpx.Request, body: dict) -> httpx.Request | None:
        offer = next((c for c in body.get("challenges", []) if c.get("type") == "pow" and c.get("algorithm") == "sha256"), None)
        if offer is None:
            return None
        self.on_event({"type": "challenge", "difficulty": offer["difficulty"]})
        nonce = solve(offer["salt"], offer["difficulty"])
        headers = {k: v for k, v in request.headers.items() if k.lower() in IDENTITY_HEADERS}
        return httpx.Request("POST", offer["verify_url"], headers=headers,
                             json={"challenge_id": offer["challenge_id"], "solution": {"nonce": nonce}})

    def _flow(self, request: httpx.Request) -> typing.Generator[httpx.Request, httpx.Response, None]:
        """Yields requests; each gets its response back, with the body read for 401 and 402."""
        for _ in range(self.max_rounds + 1):
            self._prepare(request)
            response = yield request
            if response.status_code == 401 and self.token and response.json().get("error") == "invalid_or_expired_token":
                self.token = None
                continue
            if response.status_code != 402:
                return
            redemption = self._redemption(request, response.json())
            if redemption is None:
                return
            verified = yield redemption
            if verified.status_code != 200:
                return
            self.token = verified.json()["access_token"]
            self.on_event({"type": "redeemed"})

    def sync_auth_flow(self, request: httpx.Request) -> typing.Generator[httpx.Request, httpx.Response, None]:
        flow = self._flow(request)
        request = next(flow)
        while True:
            response = yield request
            if response.status_code in (401, 402) or request.url.path.endswith("/api/verify-challenge"):
                response.read()
            try:
                request = flow.send(response)
            except StopIteration:
                return

    async def async_auth_flow(self, request: httpx.Request) -> typing.AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self._flow(request)
        request = next(flow)
        while True:
            response = yield request
            if response.status_code in (401, 402) or request.url.path.endswith("/api/verify-challenge"):
                await response.aread()
            try:
                request = flow.send(response)
            except StopIteration:
                return
