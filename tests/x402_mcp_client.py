#!/usr/bin/env python3
"""The official Python x402 MCP client (`x402.mcp.x402MCPSession`, x402 2.25) on the official
Python MCP SDK (1.x), making tool calls past a gateway's quota and paying each refused one inside
MCP with an EIP-3009 authorization. Prints one JSON line; exits non-zero on any failure.

usage: x402_mcp_client.py <mcp url> <api key> <payer private key> <network> <asset> <cap> <calls>

The local token is not one of the client's default assets, so it is allowed by name and capped
per payment (atomic units), the way an agent allows a token it trusts.
"""
import asyncio
import json
import sys

import httpx
from eth_account import Account
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from x402 import x402Client
from x402.mcp import x402MCPSession
from x402.mechanisms.evm.exact import ExactEvmClientScheme
from x402.mechanisms.evm.signers import EthAccountSigner


async def main() -> None:
    url, key, private_key, network, asset, cap, calls = sys.argv[1:8]
    payments = x402Client()
    payments.set_spend_controls(
        {"allowed_assets": [{"network": network, "asset": asset, "max_amount_per_payment": cap}]}
    )
    payments.register(network, ExactEvmClientScheme(EthAccountSigner(Account.from_key(private_key))))
    served, paid, receipts = 0, 0, []
    async with streamablehttp_client(url, headers={"x-api-key": key}, timeout=30) as (read, write, _):
        async with ClientSession(read, write) as session:
            mcp = x402MCPSession(session, payments)
            await mcp.initialize()
            for i in range(int(calls)):
                result = await mcp.call_tool("echo", {"message": f"x402 {i}"})
                assert not result.is_error, result.raw_result
                assert result.content[0].text == f"x402 {i}", result.content
                served += 1
                if result.payment_made:
                    paid += 1
                    response = result.payment_response
                    assert response is not None and getattr(response, "success", False), response
                    receipts.append(response.transaction)
    print(json.dumps({"served": served, "paid": paid, "receipts": receipts}))


asyncio.run(main())
