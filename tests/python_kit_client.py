#!/usr/bin/env python3
"""The kit's httpx.Auth flow driven directly, for the hostile-server and payment-cap tests.
Prints one JSON line; exits non-zero on any unexpected failure (`run` reports the httpx error a
request ends in instead of raising it).

usage: python_kit_client.py vectors <bolt11-vectors.json>
       python_kit_client.py pow-vectors <pow-vectors.json>
       python_kit_client.py wire <wire.json>
       python_kit_client.py run <url> <requests> [--async] [--stream] [--header name:value]...
                            [--lnbits <url> <admin key> | --fake-wallet] [--max-sats-per-invoice N]
                            [--max-sats-total N] [--max-rounds N] [--read-deadline S]

`vectors` checks the flow's BOLT 11 amount reader against the shared vectors, `pow-vectors` its
proof-of-work rule and solver, and `wire` its names on the wire against the one list of them.
`run` POSTs an MCP initialize `requests` times through one GatehouseAuth and reports each status
and every event, and the name of any httpx error a request ended in (`errors`). With `--stream`
it reads no body itself, as the MCP SDK reads a 4xx; `--fake-wallet` "pays" with a made-up
preimage and counts the payments (`paid`).
"""
import asyncio
import hashlib
import json
import os
import sys

import httpx

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "clients", "python"))
import gatehouse_auth  # noqa: E402
from gatehouse_auth import GatehouseAuth, Refused, invoice_amount_msat  # noqa: E402

INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
              "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "py-kit", "version": "1"}}}
MCP = {"content-type": "application/json", "accept": "application/json, text/event-stream"}


def vectors(path: str) -> None:
    with open(path) as f:
        doc = json.load(f)
    for v in doc["vectors"]:
        try:
            got = invoice_amount_msat(v["invoice"])
        except Refused as refusal:
            got = refusal.reason
        expected = v.get("msat", v.get("error"))
        assert got == expected, f"{v['note']}: {got!r} != {expected!r}"
    print(json.dumps({"checked": len(doc["vectors"])}))


def pow_vectors(path: str) -> None:
    """Every vector: its digest, at least its difficulty in leading zero bits, and the smallest
    nonce found by the flow's own solver (and by `solve`, whichever solver it picks)."""
    with open(path) as f:
        doc = json.load(f)
    for v in doc:
        digest = hashlib.sha256(f"{v['salt']}{v['nonce']}".encode()).digest()
        assert digest.hex() == v["sha256"], v
        assert gatehouse_auth.leading_zero_bits(digest) >= v["difficulty"], v
        assert gatehouse_auth.solve_locally(v["salt"], v["difficulty"]) == v["nonce"], v
        assert gatehouse_auth.solve(v["salt"], v["difficulty"]) == v["nonce"], v
    # The rule counts bits, not hex digits: one byte 0x0f after a zero byte is 12 bits.
    assert gatehouse_auth.leading_zero_bits(bytes([0, 0x0F, 0xFF])) == 12
    assert gatehouse_auth.leading_zero_bits(bytes(32)) == 256
    print(json.dumps({"checked": len(doc)}))


def wire(path: str) -> None:
    """The flow's names equal those of the wire file, its redemption headers its identity list."""
    with open(path) as f:
        names = json.load(f)
    m = gatehouse_auth
    pairs = {
        "headers.access_token": (m.TOKEN_HEADER, names["headers"]["access_token"]),
        "headers.challenge_marker": (m.MARKER_HEADER, names["headers"]["challenge_marker"]),
        "header_values.challenge_marker": (m.MARKER_VALUE, names["header_values"]["challenge_marker"]),
        "headers.accept_402": (m.ACCEPT_402_HEADER, names["headers"]["accept_402"]),
        "header_values.accept_402": (m.ACCEPT_402_VALUE, names["header_values"]["accept_402"]),
        "challenge_types.pow": (m.POW_TYPE, names["challenge_types"]["pow"]),
        "challenge_types.l402": (m.L402_TYPE, names["challenge_types"]["l402"]),
        "pow_algorithm": (m.POW_ALGORITHM, names["pow_algorithm"]),
        "identity_headers": (list(m.IDENTITY_HEADERS), names["identity_headers"]),
        "default identity_headers": (GatehouseAuth().identity_headers, frozenset(names["identity_headers"])),
    }
    for what, (ours, theirs) in pairs.items():
        assert ours == theirs, f"{what}: {ours!r} != {theirs!r}"
    assert m.TOKEN_REFUSED in names["errors"], m.TOKEN_REFUSED
    assert names["errors"][m.TOKEN_REFUSED] == 401
    print(json.dumps({"checked": sorted(pairs) + ["errors." + m.TOKEN_REFUSED]}))


def lnbits_wallet(base: str, key: str):
    """Pays from an LNbits wallet: the payer's side of the test, not part of the kit."""
    def pay(invoice: str) -> str:
        with httpx.Client(timeout=30) as http:
            paid = http.post(f"{base}/api/v1/payments", headers={"x-api-key": key}, json={"out": True, "bolt11": invoice})
            paid.raise_for_status()
            body = paid.json()
            if body.get("preimage"):
                return body["preimage"]
            status = http.get(f"{base}/api/v1/payments/{body['payment_hash']}", headers={"x-api-key": key})
            return status.json()["preimage"]
    return pay


PAID: list[str] = []


def fake_wallet(invoice: str) -> str:
    """A wallet that pays nothing: the preimage is made up; a hostile server takes any."""
    PAID.append(invoice)
    return "00" * 32


def options(args: list[str]) -> tuple[dict, dict, set[str]]:
    headers, auth, flags = dict(MCP), {}, set()
    i = 0
    while i < len(args):
        a = args[i]
        if a in ("--async", "--stream"):
            flags.add(a[2:])
        elif a == "--fake-wallet":
            auth["wallet"] = fake_wallet
        elif a == "--max-rounds":
            auth["max_rounds"] = int(args[i + 1])
            i += 1
        elif a == "--read-deadline":
            auth["read_deadline_s"] = float(args[i + 1])
            i += 1
        elif a == "--header":
            name, _, value = args[i + 1].partition(":")
            headers[name.strip()] = value.strip()
            i += 1
        elif a == "--lnbits":
            auth["wallet"] = lnbits_wallet(args[i + 1], args[i + 2])
            i += 2
        elif a in ("--max-sats-per-invoice", "--max-sats-total"):
            auth[a[2:].replace("-", "_")] = int(args[i + 1])
            i += 1
        i += 1
    return headers, auth, flags


def run(url: str, requests: int, args: list[str]) -> None:
    headers, auth_args, flags = options(args)
    events: list[dict] = []
    auth = GatehouseAuth(on_event=events.append, **auth_args)
    statuses: list[int] = []
    marked: list[bool] = []
    errors: list[str] = []

    def note(response: httpx.Response) -> None:
        statuses.append(response.status_code)
        marked.append(gatehouse_auth.MARKER_HEADER in response.headers)

    if "async" in flags:
        async def go() -> None:
            async with httpx.AsyncClient(auth=auth, headers=headers, timeout=30) as http:
                for _ in range(requests):
                    try:
                        if "stream" in flags:
                            async with http.stream("POST", url, json=INITIALIZE) as response:
                                note(response)
                        else:
                            note(await http.post(url, json=INITIALIZE))
                    except httpx.HTTPError as e:
                        errors.append(type(e).__name__)
        asyncio.run(go())
    else:
        with httpx.Client(auth=auth, headers=headers, timeout=30) as http:
            for _ in range(requests):
                try:
                    if "stream" in flags:
                        with http.stream("POST", url, json=INITIALIZE) as response:
                            note(response)
                    else:
                        note(http.post(url, json=INITIALIZE))
                except httpx.HTTPError as e:
                    errors.append(type(e).__name__)
    print(json.dumps({"statuses": statuses, "marked": marked, "events": events, "errors": errors, "paid": len(PAID)}))


if __name__ == "__main__":
    if sys.argv[1] == "vectors":
        vectors(sys.argv[2])
    elif sys.argv[1] == "pow-vectors":
        pow_vectors(sys.argv[2])
    elif sys.argv[1] == "wire":
        wire(sys.argv[2])
    else:
        run(sys.argv[2], int(sys.argv[3]), sys.argv[4:])
