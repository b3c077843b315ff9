"""A stock client on the official Python MCP SDK 2.x (`mcp==2.3.0`, in `.tools/py2`), through the
gateway at MCP revision 2026-07-28, driven by tests/revision_2026.test.mjs.

    .tools/py2/bin/python tests/python2_client.py <gateway /mcp URL> <API key> [flow|connect]

`flow` (the default): it connects as the SDK does by default (`server/discover`, no `initialize`), lists the tools,
calls them (one with progress over SSE) until the gateway's quota is spent, and reports what the
SDK surfaced for a refused `tools/call` (a tool result) and for a refused `tools/list` (an
`MCPError`). Then it pays as docs/PROTOCOL.md §1 and §4 say, with nothing but the SDK and the
standard library: it solves the proof of work found in the refused result's
`structuredContent.challenges`, redeems it at `verify_url`, and hands the token back, first in
`params._meta["gatehouse/access_token"]` and then in the header the redemption names. It also
tries the token as `Authorization: Bearer`, which the gateway does not take as a Gatehouse token
when OAuth is off.

Every HTTP exchange is recorded with httpx2 event hooks (the SDK's own HTTP client; the SDK is not
touched), so the test can check every JSON-RPC error code that reached the client. The last line
on stdout is one JSON object: what happened.

`connect`: only connects, as a fresh client whose quota is already spent would, and reports
whether the SDK got connected and, if not, the error it raised.
"""

from __future__ import annotations

import asyncio
import hashlib
import itertools
import json
import sys
from typing import Any
from urllib.parse import urlsplit

import httpx2
from mcp import Client, MCPError
from mcp.client.streamable_http import streamable_http_client

USER_AGENT = "gatehouse-python2-client/1.0"
MAX_CALLS = 12  # the quota is spent well before this
MAX_HASHES = 1 << 28


def leading_zero_bits(digest: bytes) -> int:
    value = int.from_bytes(digest, "big")
    return 256 - value.bit_length()


def solve(salt: str, difficulty: int) -> str:
    """The smallest nonce such that SHA-256(salt + nonce) starts with `difficulty` zero bits."""
    for nonce in itertools.count():
        if nonce >= MAX_HASHES:
            raise RuntimeError(f"no solution within {MAX_HASHES} hashes at difficulty {difficulty}")
        if leading_zero_bits(hashlib.sha256(f"{salt}{nonce}".encode()).digest()) >= difficulty:
            return str(nonce)
    raise AssertionError("unreachable")


def messages_of(content_type: str, body: str) -> list[dict[str, Any]]:
    """The JSON-RPC messages of a response body, JSON or SSE."""
    texts: list[str] = []
    if content_type.startswith("application/json"):
        texts = [body]
    elif content_type.startswith("text/event-stream"):
        for event in body.replace("\r\n", "\n").split("\n\n"):
            data = "\n".join(line[5:].lstrip() for line in event.split("\n") if line.startswith("data:"))
            if data:
                texts.append(data)
    out: list[dict[str, Any]] = []
    for text in texts:
        try:
            value = json.loads(text)
        except ValueError:
            continue
        out.extend(m for m in (value if isinstance(value, list) else [value]) if isinstance(m, dict))
    return out


class Wire:
    """Every exchange the SDK's HTTP client made: request method, headers and id; response status,
    marker, and the JSON-RPC messages it carried."""

    def __init__(self) -> None:
        self.exchanges: list[dict[str, Any]] = []

    async def on_response(self, response: httpx2.Response) -> None:
        await response.aread()
        request = response.request
        try:
            sent = json.loads(request.content) if request.content else None
        except ValueError:
            sent = None
        sent_meta = ((sent or {}).get("params") or {}).get("_meta") or {} if isinstance(sent, dict) else {}
        messages = messages_of(response.headers.get("content-type", ""), response.text)
        self.exchanges.append({
            "http_method": request.method,
            "method": sent.get("method") if isinstance(sent, dict) else None,
            "id": sent.get("id") if isinstance(sent, dict) else None,
            "mcp_method": request.headers.get("mcp-method"),
            "mcp_name": request.headers.get("mcp-name"),
            "protocol_version_header": request.headers.get("mcp-protocol-version"),
            "protocol_version_meta": sent_meta.get("io.modelcontextprotocol/protocolVersion"),
            "status": response.status_code,
            "content_type": response.headers.get("content-type"),
            "marker": response.headers.get("gatehouse-challenge"),
            "retry_after": response.headers.get("retry-after"),
            "error_codes": [m["error"].get("code") for m in messages if isinstance(m.get("error"), dict)],
            "response_ids": [m.get("id") for m in messages if "result" in m or "error" in m],
            "result_types": [m["result"].get("resultType") for m in messages if isinstance(m.get("result"), dict)],
            "notifications": [m.get("method") for m in messages if "method" in m and "id" not in m],
        })


def texts(result: Any) -> list[str]:
    return [c.text for c in result.content if getattr(c, "type", None) == "text"]


def tool_result(result: Any) -> dict[str, Any]:
    return {
        "is_error": bool(result.is_error),
        "texts": texts(result),
        "structured": result.structured_content,
        "result_type": getattr(result, "result_type", None),
    }


async def main(url: str, api_key: str) -> dict[str, Any]:
    wire = Wire()
    identity = {"x-api-key": api_key, "user-agent": USER_AGENT}
    out: dict[str, Any] = {}
    async with httpx2.AsyncClient(headers=identity, event_hooks={"response": [wire.on_response]}, timeout=60) as http:
        async with Client(streamable_http_client(url, http_client=http)) as client:
            out["negotiated"] = client.protocol_version
            out["server_info"] = client.server_info.name if client.server_info else None
            out["tools"] = [t.name for t in (await client.list_tools()).tools]

            # Within the quota: a call with progress notifications over SSE, then plain calls.
            progress: list[float] = []

            async def on_progress(value: float, total: float | None, message: str | None) -> None:
                progress.append(value)

            slow = await client.call_tool("slow", {"ms": 300, "steps": 3}, progress_callback=on_progress)
            out["slow"] = {**tool_result(slow), "progress": progress}

            # Past the quota: calls until the gateway refuses one.
            served: list[dict[str, Any]] = []
            denied = None
            for i in range(MAX_CALLS):
                call = ("add", {"a": i, "b": 1}) if i % 2 else ("echo", {"message": f"call {i}"})
                result = await client.call_tool(*call)
                if result.is_error:
                    denied = tool_result(result)
                    break
                served.append({"tool": call[0], **tool_result(result)})
            out["served_within_quota"] = served
            out["denied"] = denied
            if denied is None:
                return {**out, "wire": wire.exchanges}

            # A request other than tools/call past the quota.
            try:
                listed = await client.list_tools()
                out["list_past_quota"] = {"raised": False, "tools": len(listed.tools)}
            except MCPError as e:
                data = e.error.data if isinstance(e.error.data, dict) else None
                out["list_past_quota"] = {
                    "raised": True,
                    "code": e.error.code,
                    "message": e.error.message,
                    "data": data,
                }

            # Pay: the proof of work offered in the refused result.
            challenges = (denied["structured"] or {}).get("challenges") or []
            pow_offer = next((c for c in challenges if c.get("type") == "pow"), None)
            out["offer"] = pow_offer
            if pow_offer is None:
                return {**out, "wire": wire.exchanges}
            nonce = solve(pow_offer["salt"], pow_offer["difficulty"])
            async with httpx2.AsyncClient(headers=identity, timeout=30) as redeemer:
                redeemed = await redeemer.post(
                    pow_offer["verify_url"],
                    json={"challenge_id": pow_offer["challenge_id"], "solution": {"nonce": nonce}},
                )
            grant = redeemed.json()
            token = grant.get("access_token")
            out["redeem"] = {"status": redeemed.status_code, **{k: v for k, v in grant.items() if k != "access_token"}}
            out["verify_origin_matches"] = urlsplit(pow_offer["verify_url"]).netloc == urlsplit(url).netloc
            if not token:
                return {**out, "wire": wire.exchanges}

            # The token as an OAuth bearer: not a Gatehouse credential while OAuth is off.
            http.headers["authorization"] = f"Bearer {token}"
            out["paid_bearer"] = tool_result(await client.call_tool("echo", {"message": "paid with a bearer"}))
            del http.headers["authorization"]

            # The token in-band, for a client that cannot set headers.
            out["paid_meta"] = tool_result(
                await client.call_tool("echo", {"message": "paid in _meta"}, meta={"gatehouse/access_token": token})
            )

            # The token in the header the redemption named.
            http.headers[grant.get("header", "x-access-token")] = token
            out["paid_header"] = tool_result(await client.call_tool("add", {"a": 20, "b": 22}))
            out["list_with_token"] = len((await client.list_tools()).tools)
    out["wire"] = wire.exchanges
    return out


def first_mcp_error(error: BaseException) -> MCPError | None:
    """The MCPError inside what the SDK raised (anyio wraps it in exception groups)."""
    if isinstance(error, MCPError):
        return error
    for inner in getattr(error, "exceptions", ()):
        found = first_mcp_error(inner)
        if found is not None:
            return found
    return first_mcp_error(error.__cause__) if error.__cause__ is not None else None


async def connect(url: str, api_key: str) -> dict[str, Any]:
    wire = Wire()
    identity = {"x-api-key": api_key, "user-agent": USER_AGENT}
    out: dict[str, Any] = {}
    async with httpx2.AsyncClient(headers=identity, event_hooks={"response": [wire.on_response]}, timeout=60) as http:
        try:
            async with Client(streamable_http_client(url, http_client=http)) as client:
                out = {"connected": True, "negotiated": client.protocol_version}
        except Exception as e:  # noqa: BLE001 (what the SDK raised is the finding)
            found = first_mcp_error(e)
            out = {
                "connected": False,
                "raised": type(e).__name__,
                "code": found.error.code if found else None,
                "message": found.error.message if found else str(e),
            }
    out["wire"] = wire.exchanges
    return out


if __name__ == "__main__":
    mode = sys.argv[3] if len(sys.argv) > 3 else "flow"
    report = asyncio.run((connect if mode == "connect" else main)(sys.argv[1], sys.argv[2]))
    print(json.dumps(report, default=str))
