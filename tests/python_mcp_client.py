#!/usr/bin/env python3
"""The official Python MCP SDK, with GatehouseAuth, making tool calls past a quota. Prints one JSON
line; exits non-zero on any failure.

usage: python_mcp_client.py <mcp url> <api key> <calls>
"""
import asyncio
import json
import os
import sys

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "clients", "python"))
from gatehouse_auth import GatehouseAuth  # noqa: E402


async def main() -> None:
    url, key, calls = sys.argv[1], sys.argv[2], int(sys.argv[3])
    events = []
    auth = GatehouseAuth(on_event=events.append)
    ok = 0
    async with httpx.AsyncClient(auth=auth, headers={"x-api-key": key}, timeout=30) as http:
        async with streamable_http_client(url, http_client=http) as (read, write, _):
            async with ClientSession(read, write) as session:
                await session.initialize()
                for i in range(calls):
                    result = await session.call_tool("echo", {"message": f"py {i}"})
                    assert result.content[0].text == f"py {i}", result
                    ok += 1
    print(json.dumps({"ok": ok, "redeemed": sum(e["type"] == "redeemed" for e in events)}))


asyncio.run(main())
