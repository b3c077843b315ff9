#!/usr/bin/env python3
"""A Gatehouse client written from the "Proof of work" section of docs/agents.md alone, with
Python's standard library: meet the quota, solve the proof of work, redeem it, and get through
with the token. Prints one JSON line describing what happened; exits non-zero if it did not get
through.

usage: independent_client.py <mcp url> <api key header> <api key>
"""
import hashlib
import json
import sys
import urllib.error
import urllib.request

URL, KEY_HEADER, KEY = sys.argv[1], sys.argv[2], sys.argv[3]
AGENT = "independent-python-client/1.0"
CALL = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-06-18", "capabilities": {},
    "clientInfo": {"name": "independent-python-client", "version": "1.0"}}}).encode()


def post(url, body, extra=None):
    headers = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream",
               "User-Agent": AGENT, KEY_HEADER: KEY}
    headers.update(extra or {})
    req = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(req, timeout=30) as res:
            return res.status, dict(res.headers), res.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def leading_zero_bits(digest):
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


def solve(salt, difficulty):
    nonce = 0
    while leading_zero_bits(hashlib.sha256((salt + str(nonce)).encode()).digest()) < difficulty:
        nonce += 1
    return str(nonce)


def main():
    for _ in range(1000):
        status, headers, body = post(URL, CALL)
        if status == 402:
            break
    else:
        sys.exit("never met the quota")
    offer = json.loads(body)
    pow_offer = next(c for c in offer["challenges"] if c["type"] == "pow")
    nonce = solve(pow_offer["salt"], pow_offer["difficulty"])
    status, _, body = post(pow_offer["verify_url"], json.dumps(
        {"challenge_id": pow_offer["challenge_id"], "solution": {"nonce": nonce}}).encode())
    if status != 200:
        sys.exit(f"redemption refused: {status} {body!r}")
    token = json.loads(body)
    status, headers, _ = post(URL, CALL, {token["header"]: token["access_token"]})
    print(json.dumps({"retry_after": offer["retry_after"], "difficulty": pow_offer["difficulty"],
                      "nonce": nonce, "status_with_token": status,
                      "ratelimit": headers.get("RateLimit") or headers.get("ratelimit")}))
    sys.exit(0 if status == 200 else 1)


if __name__ == "__main__":
    main()
