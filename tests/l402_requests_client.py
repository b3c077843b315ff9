#!/usr/bin/env python3
"""Pays through the gateway with the third-party client `l402-requests` (PyPI), using a wallet
adapter over the payer's LNbits account. Prints one JSON line; exits non-zero if it did not get
through to the MCP origin.

usage: l402_requests_client.py <mcp url> <lnbits url> <payer admin key>
"""
import json
import sys

import httpx
from l402_requests import L402Client, WalletBase

MCP_URL, LNBITS_URL, PAYER_KEY = sys.argv[1], sys.argv[2], sys.argv[3]
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "l402-requests-agent", "version": "1.0"}}}


class LnbitsWallet(WalletBase):
    """Pays from an LNbits wallet: the few lines over LNbits' pay call that the client asks for."""

    def __init__(self):
        self.paid = []

    async def pay_invoice(self, bolt11: str) -> str:
        async with httpx.AsyncClient() as http:
            res = await http.post(f"{LNBITS_URL}/api/v1/payments", headers={"X-Api-Key": PAYER_KEY},
                                  json={"out": True, "bolt11": bolt11}, timeout=30)
            res.raise_for_status()
            payment = res.json()
            preimage = payment.get("preimage")
            if not preimage:
                status = await http.get(f"{LNBITS_URL}/api/v1/payments/{payment['payment_hash']}",
                                        headers={"X-Api-Key": PAYER_KEY})
                preimage = status.json()["preimage"]
        self.paid.append(bolt11)
        return preimage


def main():
    wallet = LnbitsWallet()
    client = L402Client(wallet=wallet, budget=None)
    headers = {"Accept": "application/json, text/event-stream"}
    statuses = []
    # The first request may still fit the quota; keep going until the client has paid once.
    for _ in range(5):
        res = client.post(MCP_URL, json=INITIALIZE, headers=headers)
        statuses.append(res.status_code)
        if wallet.paid:
            break
    print(json.dumps({"statuses": statuses, "paid": len(wallet.paid),
                      "session": res.headers.get("mcp-session-id") is not None}))
    sys.exit(0 if wallet.paid and res.status_code == 200 else 1)


if __name__ == "__main__":
    main()
