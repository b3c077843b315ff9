#!/usr/bin/env python3
"""Agents paying x402 inside MCP with the official Python x402 MCP client
(`x402.mcp.x402MCPSession`, x402 2.25) on the official Python MCP SDK (1.x), as
tests/x402_mcp_client.py drives it: each agent calls the `echo` tool, and every call the gateway
refuses in-band (a tool result with isError and the x402 PaymentRequired) is paid with an
EIP-3009 authorization in `_meta["x402/payment"]` and retried by the client itself.

Used by the demo traffic of `npm start` (one agent, a fixed number of calls) and by the study
(`npm run study`, many agents for a fixed time): one process runs them all, concurrently, so the
study does not start twenty Python interpreters on a shared machine.

    .tools/x402py/bin/python demo/x402_mcp_agent.py < config.json

The configuration comes on stdin, not in argv, because it holds private keys:
    {"url": <gateway MCP URL>, "network": "eip155:31337", "asset": <token>, "cap": "100000",
     "calls": 70 | null, "deadline_unix_ms": <ms> | null, "interval_ms": 0,
     "user_agent": "...", "agents": [{"name", "api_key", "private_key"}]}

Each event is one JSON line on stdout, as it happens, so the caller can show it live:
    {"event": "ready"}                       imported, reading the configuration
    {"agent", "event": "connected"}
    {"agent", "event": "call", "paid": bool, "recovery_ms": <refusal to served, paid calls>, "tx"}
    {"agent", "event": "refused", "error"}   a tool result with isError that the client did not
                                              get through (a payment refused, or not payable)
    {"agent", "event": "http", "status"}     a 5xx answer
    {"agent", "event": "failed", "error"}    the agent stopped: the SDK raised
    {"event": "done"}
"""
import asyncio
import json
import sys
import time

from eth_account import Account
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from mcp.shared._httpx_utils import create_mcp_http_client
from x402 import x402Client
from x402.mcp import x402MCPSession
from x402.mechanisms.evm.exact import ExactEvmClientScheme
from x402.mechanisms.evm.signers import EthAccountSigner


def emit(**event: object) -> None:
    print(json.dumps(event), flush=True)


async def agent(config: dict, me: dict) -> None:
    name = me["name"]
    payments = x402Client()
    # The local token is not one of the client's default assets: allowed by name and capped per
    # payment (atomic units), the way an agent allows a token it trusts.
    payments.set_spend_controls(
        {"allowed_assets": [{"network": config["network"], "asset": config["asset"], "max_amount_per_payment": config["cap"]}]}
    )
    payments.register(config["network"], ExactEvmClientScheme(EthAccountSigner(Account.from_key(me["private_key"]))))
    # The moment the client turns to pay is the moment it read the refusal: the start of its
    # recovery. Timed by wrapping its own method; the payment itself is untouched.
    refused_at: list[float] = []
    create = payments.create_payment_payload

    async def timed_create(*args, **kwargs):
        refused_at.append(time.perf_counter())
        return await create(*args, **kwargs)

    payments.create_payment_payload = timed_create

    async def on_response(response) -> None:
        if response.status_code >= 500:
            emit(agent=name, event="http", status=response.status_code)

    def http_client(headers=None, timeout=None, auth=None):
        client = create_mcp_http_client(headers=headers, timeout=timeout, auth=auth)
        client.event_hooks["response"].append(on_response)
        return client

    headers = {"x-api-key": me["api_key"], "user-agent": config.get("user_agent", "gatehouse-demo-x402-mcp/1.0")}
    calls = config.get("calls")
    deadline = config.get("deadline_unix_ms")
    interval = config.get("interval_ms", 0) / 1000
    try:
        async with streamablehttp_client(config["url"], headers=headers, timeout=30, httpx_client_factory=http_client) as (read, write, _):
            async with ClientSession(read, write) as session:
                mcp = x402MCPSession(session, payments)
                await mcp.initialize()
                emit(agent=name, event="connected")
                n = 0
                while (calls is None or n < calls) and (deadline is None or time.time() * 1000 < deadline):
                    started = time.perf_counter()
                    refused_at.clear()
                    message = f"{name} {n}"
                    result = await mcp.call_tool("echo", {"message": message})
                    n += 1
                    text = getattr(result.content[0], "text", None) if result.content else None
                    if result.is_error or text != message:
                        emit(agent=name, event="refused", error=json.dumps(result.content[0].model_dump() if result.content else None)[:200])
                    else:
                        tx = getattr(result.payment_response, "transaction", None) if result.payment_made else None
                        recovery = (time.perf_counter() - refused_at[0]) * 1000 if result.payment_made and refused_at else None
                        emit(agent=name, event="call", paid=result.payment_made, recovery_ms=recovery, tx=tx)
                    await asyncio.sleep(max(0.0, interval - (time.perf_counter() - started)))
    except Exception as e:  # noqa: BLE001 (what the SDK raised is the report)
        inner = e
        while getattr(inner, "exceptions", None):
            inner = inner.exceptions[0]
        emit(agent=name, event="failed", error=f"{type(inner).__name__}: {inner}"[:200])


async def main() -> None:
    # Imported and ready: a caller timing a run can send the configuration now (the study does, so
    # the interpreter's start is not counted against these agents' time).
    emit(event="ready")
    config = json.loads(sys.stdin.read())
    await asyncio.gather(*(agent(config, me) for me in config["agents"]))
    emit(event="done")


asyncio.run(main())
