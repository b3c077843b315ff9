"""An `httpx.Auth` flow that gets agents through a Gatehouse 402, for the official Python MCP SDK.

    import httpx
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client
    from gatehouse_auth import GatehouseAuth

    async with httpx.AsyncClient(auth=GatehouseAuth()) as http:
        async with streamable_http_client(url, http_client=http) as (read, write, _):
            async with ClientSession(read, write) as session:
                ...  # 402s are solved, redeemed and retried underneath

On a 402 the gateway marked as its own (`Gatehouse-Challenge: 1`, docs/PROTOCOL.md §1) it solves
the proof of work (with the client kit's `gatehouse-solve` when it is on PATH, else with hashlib)
or, given a `wallet`, pays the L402 invoice, redeems the proof at `verify_url`, keeps the access
token for that origin, and retries with it in `x-access-token`. A token the gateway calls invalid
or expired is dropped. Response bodies are read only for a 402 the gateway marked and for a 401
to a request that carried a token, so SSE streams stay streams.

Every body it reads is bounded (`read_capped`): at most `MAX_BODY_BYTES` (64 KiB; the gateway's
largest is a few KiB), complete within `read_deadline_s` (10 s) of its headers, or it stops reading
there, answers nothing, and the caller's read of that body fails with `httpx.ReadError` rather than
read on. A redemption has `REDEEM_TIMEOUT_S` (30 s) per phase for its headers, then the same cap and
deadline for its body; a redemption's body is closed once read, never left open.

What it never does (the same rules as the JS kit's `guard.mjs` and the Rust kit):
- answer a 402 without the marker (the gateway strips it from every origin response), or one
  whose `verify_url` is not on the request's origin (scheme, host and port, after resolving a
  relative `verify_url` against the request's URL);
- send the redemption anything but the identity headers (`identity_headers`: the OAuth
  `Authorization`, `User-Agent`, the gateway's rate-key header), or follow a redirect from it:
  the flow sends it itself, on a client that follows none, since httpx sends an auth flow's
  requests through the caller's client and its redirect setting;
- pay an invoice whose own amount (BOLT 11, never the JSON's `amount_sats`) is missing,
  unreadable, above `max_sats_per_invoice`, or beyond what is left of `max_sats_total`. Each
  amount is reserved before paying; a failed payment keeps its reservation.

A `wallet` is a callable that pays a BOLT 11 invoice and returns the preimage in hex; with the
async client it may be a coroutine function.

The names on the wire below are those of `clients/js/wire.json`, the one list the gateway and the
JS kit read; this file stands alone, so it holds them as constants, which the e2e suite checks
against that file (`tests/python_kit_client.py wire`, run by `tests/wire.test.mjs`).
"""

from __future__ import annotations

import asyncio
import hashlib
import inspect
import itertools
import json
import shutil
import subprocess
import threading
import time
import typing

import httpx

TOKEN_HEADER = "x-access-token"
MARKER_HEADER = "gatehouse-challenge"
MARKER_VALUE = "1"
ACCEPT_402_HEADER = "gatehouse-accept"
ACCEPT_402_VALUE = "402"
TOKEN_REFUSED = "invalid_or_expired_token"
POW_TYPE = "pow"
L402_TYPE = "l402"
POW_ALGORITHM = "sha256"
# `Authorization` (OAuth bearer), `User-Agent`, and the rate-key header most gateways use: the
# only headers a redemption carries, the same list as the JS kit's.
IDENTITY_HEADERS = ("authorization", "user-agent", "x-api-key")
DEFAULT_MAX_SATS_PER_INVOICE = 10
DEFAULT_MAX_SATS_TOTAL = 100
# The bounds on every body the flow reads (`read_capped`), the same as the JS kit's `read.mjs`:
# 64 KiB, complete within 10 s of its headers; a redemption's phases 30 s each.
MAX_BODY_BYTES = 65_536
READ_DEADLINE_S = 10.0
REDEEM_TIMEOUT_S = 30

Wallet = typing.Callable[[str], typing.Union[str, typing.Awaitable[str]]]


def leading_zero_bits(digest: bytes) -> int:
    bits = 0
    for byte in digest:
        if byte == 0:
            bits += 8
            continue
        return bits + 8 - byte.bit_length()
    return bits


# A gateway never asks more than this (POW_MAX_BITS is at most 32): anything harder is a server
# trying to keep the client busy for ever, and is not answered.
MAX_DIFFICULTY = 32
# How long a proof of work may take before the flow gives up and hands the 402 back.
DEFAULT_SOLVE_BUDGET_S = 30.0


class SolveTimeout(Exception):
    pass


def solve(salt: str, difficulty: int, budget_s: float = DEFAULT_SOLVE_BUDGET_S) -> str:
    """The nonce for a challenge: `sha256(salt + nonce)` with `difficulty` leading zero bits."""
    solver = shutil.which("gatehouse-solve")
    if solver:
        try:
            out = subprocess.run([solver, "solve", salt, str(difficulty)], capture_output=True, text=True, check=True, timeout=budget_s)
        except subprocess.TimeoutExpired as e:
            raise SolveTimeout(f"no solution within {budget_s} s") from e
        return json.loads(out.stdout)["nonce"]
    return solve_locally(salt, difficulty, budget_s)


def solve_locally(salt: str, difficulty: int, budget_s: float = float("inf")) -> str:
    """The smallest such nonce, found with hashlib alone, within `budget_s` seconds."""
    deadline = time.monotonic() + budget_s
    nonce = 0
    while leading_zero_bits(hashlib.sha256(f"{salt}{nonce}".encode()).digest()) < difficulty:
        nonce += 1
        if nonce % 65_536 == 0 and time.monotonic() > deadline:
            raise SolveTimeout(f"no solution within {budget_s} s")
    return str(nonce)


# BOLT 11 amounts: bech32 (BIP-0173, no length limit); human-readable part `ln` + currency +
# an optional amount in bitcoin with an optional multiplier (m, u, n, p; p must end in 0).
_CHARSET = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"
_CURRENCIES = ("bc", "tb", "tbs", "bcrt")
_MSAT_PER_BTC = 100_000_000_000
_MULTIPLIERS = {"": _MSAT_PER_BTC, "m": _MSAT_PER_BTC // 10**3, "u": _MSAT_PER_BTC // 10**6, "n": _MSAT_PER_BTC // 10**9}
_MAX_MSAT = 2**64 - 1
_MAX_INVOICE_CHARS = 8192


class Refused(ValueError):
    """An invoice not to pay; `reason` is `malformed`, `unknown_prefix`, `no_amount`,
    `bad_amount`, `over_invoice_cap` or `over_total_cap`."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _polymod(values: typing.Iterable[int]) -> int:
    gen = (0x3B6A57B2, 0x26508E6D, 0x1EA119FA, 0x3D4233DD, 0x2A1462B3)
    chk = 1
    for v in values:
        top = chk >> 25
        chk = ((chk & 0x1FFFFFF) << 5) ^ v
        for i, g in enumerate(gen):
            if (top >> i) & 1:
                chk ^= g
    return chk


def _bech32_hrp(s: str) -> str:
    if not isinstance(s, str) or len(s) > _MAX_INVOICE_CHARS or not s.isascii() or (s != s.lower() and s != s.upper()):
        raise Refused("malformed")
    s = s.lower()
    sep = s.rfind("1")
    hrp, data = s[:sep], s[sep + 1:]
    if sep < 1 or len(data) < 6 or any(not 33 <= ord(c) <= 126 for c in hrp) or any(c not in _CHARSET for c in data):
        raise Refused("malformed")
    codes = [ord(c) for c in hrp]
    if _polymod([c >> 5 for c in codes] + [0] + [c & 31 for c in codes] + [_CHARSET.index(c) for c in data]) != 1:
        raise Refused("malformed")
    return hrp


def invoice_amount_msat(invoice: str) -> int:
    """The invoice's own amount in millisatoshis; raises `Refused` when there is none to read."""
    hrp = _bech32_hrp(invoice)
    if not hrp.startswith("ln"):
        raise Refused("unknown_prefix")
    rest = hrp[2:]
    letters = len(rest) - len(rest.lstrip("abcdefghijklmnopqrstuvwxyz"))
    currency, amount = rest[:letters], rest[letters:]
    if currency not in _CURRENCIES:
        raise Refused("unknown_prefix")
    if not amount:
        raise Refused("no_amount")
    digits, multiplier = (amount[:-1], amount[-1]) if amount[-1] in "munp" else (amount, "")
    if not digits or not digits.isdigit() or not digits.isascii() or digits[0] == "0" or int(digits) > _MAX_MSAT:
        raise Refused("bad_amount")
    n = int(digits)
    if multiplier == "p":
        if n % 10:
            raise Refused("bad_amount")
        msat = n // 10
    else:
        msat = n * _MULTIPLIERS[multiplier]
    if msat > _MAX_MSAT:
        raise Refused("bad_amount")
    return msat


class Budget:
    """Caps on what one flow pays, per invoice and in total; amounts are reserved before paying."""

    def __init__(self, max_sats_per_invoice: int = DEFAULT_MAX_SATS_PER_INVOICE, max_sats_total: int = DEFAULT_MAX_SATS_TOTAL):
        for name, value in (("max_sats_per_invoice", max_sats_per_invoice), ("max_sats_total", max_sats_total)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise ValueError(f"{name} must be a whole number of sats")
        self.per_invoice_msat = max_sats_per_invoice * 1000
        self.total_msat = max_sats_total * 1000
        self.reserved_msat = 0
        self._lock = threading.Lock()

    def reserve(self, invoice: str) -> int:
        msat = invoice_amount_msat(invoice)
        if msat > self.per_invoice_msat:
            raise Refused("over_invoice_cap")
        with self._lock:
            if self.reserved_msat + msat > self.total_msat:
                raise Refused("over_total_cap")
            self.reserved_msat += msat
        return msat


def _origin(url: httpx.URL) -> tuple[str, str, int]:
    return (url.scheme, url.host, url.port or {"http": 80, "https": 443}[url.scheme])


def verify_url_for(request_url: httpx.URL, verify_url: object) -> httpx.URL | None:
    """`verify_url` resolved against the request's URL if it is HTTP(S) on the same origin."""
    if not isinstance(verify_url, str):
        return None
    try:
        target = request_url.join(verify_url)
    except (httpx.InvalidURL, ValueError):
        return None
    web = ("http", "https")
    if request_url.scheme not in web or target.scheme not in web or not target.host:
        return None
    return target if _origin(target) == _origin(request_url) else None


class _CutOff(httpx.SyncByteStream, httpx.AsyncByteStream):
    """What a caller finds in place of a body the flow stopped reading: reading it fails."""

    def __init__(self, reason: str, request: httpx.Request):
        self.reason, self.request = reason, request

    def __iter__(self) -> typing.Iterator[bytes]:
        raise httpx.ReadError(self.reason, request=self.request)

    async def __aiter__(self) -> typing.AsyncIterator[bytes]:
        for chunk in self:
            yield chunk


class _CappedRead:
    """One bounded read of a response body, shared by `read_capped` and `aread_capped`.

    The body is read decoded, counted as it comes, and no further than `limit` bytes. It must be
    complete within `deadline_s` of the start: the gap between chunks is bounded by lowering the
    request's read timeout to `deadline_s` for this body (restored after, so the caller's next
    response keeps the caller's timeouts), and the deadline is checked at each chunk; a stalled
    body is given up within twice `deadline_s` at worst.
    """

    def __init__(self, response: httpx.Response, limit: int, deadline_s: float):
        self.response, self.limit = response, limit
        self.deadline = time.monotonic() + deadline_s
        self.chunks: list[bytes] = []
        self.size = 0
        self.problem: str | None = None
        extensions = response.request.extensions
        self.timeouts = extensions.get("timeout")
        read = (self.timeouts or {}).get("read")
        extensions["timeout"] = {**(self.timeouts or {}), "read": deadline_s if read is None else min(read, deadline_s)}

    def take(self, chunk: bytes) -> bool:
        """Counts `chunk` in; False once reading must stop."""
        self.size += len(chunk)
        if self.size > self.limit:
            self.problem = "body_over_cap"
        elif time.monotonic() > self.deadline:
            self.problem = "body_past_deadline"
        else:
            self.chunks.append(chunk)
        return self.problem is None

    def failed(self, error: Exception) -> None:
        self.problem = "body_past_deadline" if isinstance(error, httpx.TimeoutException) else "body_error"

    def finish(self) -> tuple[bytes | None, str | None]:
        """The body, or None and why; the response is left read, or cut off for the caller."""
        extensions = self.response.request.extensions
        if self.timeouts is None:
            extensions.pop("timeout", None)
        else:
            extensions["timeout"] = self.timeouts
        if self.problem:
            # The original stream is closed by the caller of this; what is left is a body whose
            # reading fails, never one that reads on past the bounds.
            self.response.stream = _CutOff(f"body not read by the Gatehouse flow: {self.problem}", self.response.request)
            self.response.is_stream_consumed = False
            return None, self.problem
        # As `read()` leaves it: the caller reads the same bytes the flow did.
        self.response._content = b"".join(self.chunks)
        return self.response._content, None


def read_capped(response: httpx.Response, limit: int = MAX_BODY_BYTES, deadline_s: float = READ_DEADLINE_S) -> tuple[bytes | None, str | None]:
    """Reads `response`'s body within the bounds: `(body, None)`, or `(None, problem)` with the
    body closed unread past the point where it broke them (`body_over_cap`,
    `body_past_deadline` or `body_error`)."""
    reading = _CappedRead(response, limit, deadline_s)
    chunks = response.iter_bytes()
    try:
        for chunk in chunks:
            if not reading.take(chunk):
                break
    except httpx.TransportError as error:
        reading.failed(error)
    finally:
        chunks.close()
    if reading.problem:
        response.stream.close()
    return reading.finish()


async def aread_capped(response: httpx.Response, limit: int = MAX_BODY_BYTES, deadline_s: float = READ_DEADLINE_S) -> tuple[bytes | None, str | None]:
    """`read_capped` for an `httpx.AsyncClient`'s response."""
    reading = _CappedRead(response, limit, deadline_s)
    chunks = response.aiter_bytes()
    try:
        async for chunk in chunks:
            if not reading.take(chunk):
                break
    except httpx.TransportError as error:
        reading.failed(error)
    finally:
        await chunks.aclose()
    if reading.problem:
        await response.stream.aclose()
    return reading.finish()


def _json(body: bytes | None) -> dict:
    try:
        value = json.loads(body) if body else None
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class _Read(typing.NamedTuple):
    response: httpx.Response


class _Pay(typing.NamedTuple):
    invoice: str


class _Redeem(typing.NamedTuple):
    request: httpx.Request


class _Solve(typing.NamedTuple):
    salt: str
    difficulty: int


class GatehouseAuth(httpx.Auth):
    def __init__(
        self,
        max_rounds: int = 3,
        on_event: typing.Callable[[dict], None] | None = None,
        wallet: Wallet | None = None,
        max_sats_per_invoice: int = DEFAULT_MAX_SATS_PER_INVOICE,
        max_sats_total: int = DEFAULT_MAX_SATS_TOTAL,
        identity_headers: typing.Iterable[str] = IDENTITY_HEADERS,
        solve_budget_s: float = DEFAULT_SOLVE_BUDGET_S,
        read_deadline_s: float = READ_DEADLINE_S,
    ):
        # Challenges answered for one request at most, as in the JS kit: `max_rounds` answers,
        # and the request sent once more after each.
        self.max_rounds = max_rounds
        self.solve_budget_s = solve_budget_s
        self.read_deadline_s = read_deadline_s
        self.tokens: dict[tuple[str, str, int], str] = {}  # a token goes only to its issuer's origin
        self.on_event = on_event or (lambda _event: None)
        self.wallet = wallet
        self.budget = Budget(max_sats_per_invoice, max_sats_total)
        self.identity_headers = frozenset(h.lower() for h in identity_headers) - {"cookie"}

    def _solve(self, step: "_Solve") -> str | None:
        try:
            return solve(step.salt, step.difficulty, self.solve_budget_s)
        except SolveTimeout:
            return None

    def _prepare(self, request: httpx.Request) -> str | None:
        # This client acts on HTTP 402, so the gateway should never answer it in-band.
        request.headers[ACCEPT_402_HEADER] = ACCEPT_402_VALUE
        token = self.tokens.get(_origin(request.url)) if request.url.scheme in ("http", "https") else None
        if token:
            request.headers[TOKEN_HEADER] = token
        elif TOKEN_HEADER in request.headers:
            del request.headers[TOKEN_HEADER]
        return token

    def _choose(self, url: httpx.URL, body: dict) -> tuple[dict, httpx.URL, int] | None:
        """The first offer to answer, with its verify URL and, for L402, the amount reserved."""
        offers = body.get("challenges")
        for offer in offers if isinstance(offers, list) else []:
            if not isinstance(offer, dict):
                continue
            verify = verify_url_for(url, offer.get("verify_url"))
            if verify is None:
                self.on_event({"type": "ignored", "reason": "foreign_verify_url", "kind": offer.get("type")})
                continue
            difficulty = offer.get("difficulty")
            if (offer.get("type") == POW_TYPE and offer.get("algorithm") == POW_ALGORITHM and isinstance(offer.get("salt"), str)
                    and type(difficulty) is int and 0 <= difficulty <= MAX_DIFFICULTY):
                return offer, verify, 0
            if offer.get("type") == L402_TYPE and self.wallet and isinstance(offer.get("invoice"), str):
                try:
                    return offer, verify, self.budget.reserve(offer["invoice"])
                except Refused as refusal:
                    self.on_event({"type": "ignored", "reason": refusal.reason, "kind": L402_TYPE})
        return None

    def _flow(self, request: httpx.Request) -> typing.Generator[object, object, None]:
        """Yields requests for the caller's client, and `_Read`/`_Pay`/`_Solve`/`_Redeem` steps
        for the driver. The same rounds as the JS kit: each retry after a 402 answered or a token
        dropped is one, and a 402 met past `max_rounds` goes back to the caller."""
        for round_ in itertools.count():
            sent = self._prepare(request)
            response = yield request
            if response.status_code == 401 and sent:
                body, _ = yield _Read(response)
                if _json(body).get("error") == TOKEN_REFUSED:
                    self.tokens.pop(_origin(request.url), None)
                    continue
            if response.status_code != 402 or round_ >= self.max_rounds:
                return
            if response.headers.get(MARKER_HEADER, "").strip() != MARKER_VALUE:
                self.on_event({"type": "ignored", "reason": "unmarked_402"})
                return
            body, problem = yield _Read(response)
            if problem:
                self.on_event({"type": "ignored", "reason": problem})
            plan = self._choose(request.url, _json(body))
            if plan is None:
                return
            offer, verify, msat = plan
            self.on_event({"type": "challenge", "kind": offer["type"], "difficulty": offer.get("difficulty")})
            if offer["type"] == L402_TYPE:
                preimage = yield _Pay(offer["invoice"])
                self.on_event({"type": "paid", "sats": msat / 1000})
                proof = {"payment_proof": {"preimage": preimage}}
            else:
                nonce = yield _Solve(offer["salt"], offer["difficulty"])
                if nonce is None:
                    self.on_event({"type": "gave_up", "reason": "solve_budget"})
                    return
                proof = {"solution": {"nonce": nonce}}
            headers = {k: v for k, v in request.headers.items() if k.lower() in self.identity_headers}
            status, body = yield _Redeem(httpx.Request("POST", verify, headers=headers, json={"challenge_id": offer.get("challenge_id"), **proof}))
            token = _json(body).get("access_token") if status == 200 else None
            if not isinstance(token, str):
                self.on_event({"type": "redemption_refused", "status": status})
                return
            self.tokens[_origin(request.url)] = token
            self.on_event({"type": "redeemed"})

    def _redeem(self, request: httpx.Request) -> tuple[int, bytes | None]:
        with httpx.Client(follow_redirects=False, timeout=REDEEM_TIMEOUT_S) as client:
            response = client.send(request, stream=True)
            try:
                return response.status_code, read_capped(response, deadline_s=self.read_deadline_s)[0]
            finally:
                response.close()

    async def _aredeem(self, request: httpx.Request) -> tuple[int, bytes | None]:
        async with httpx.AsyncClient(follow_redirects=False, timeout=REDEEM_TIMEOUT_S) as client:
            response = await client.send(request, stream=True)
            try:
                return response.status_code, (await aread_capped(response, deadline_s=self.read_deadline_s))[0]
            finally:
                await response.aclose()

    def sync_auth_flow(self, request: httpx.Request) -> typing.Generator[httpx.Request, httpx.Response, None]:
        flow = self._flow(request)
        step = next(flow)
        while True:
            if isinstance(step, _Read):
                value = read_capped(step.response, deadline_s=self.read_deadline_s)
            elif isinstance(step, _Pay):
                value = self.wallet(step.invoice)
                if inspect.isawaitable(value):
                    getattr(value, "close", lambda: None)()
                    raise TypeError("an async wallet needs httpx.AsyncClient")
            elif isinstance(step, _Redeem):
                value = self._redeem(step.request)
            elif isinstance(step, _Solve):
                value = self._solve(step)
            else:
                value = yield step
            try:
                step = flow.send(value)
            except StopIteration:
                return

    async def async_auth_flow(self, request: httpx.Request) -> typing.AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self._flow(request)
        step = next(flow)
        while True:
            if isinstance(step, _Read):
                value = await aread_capped(step.response, deadline_s=self.read_deadline_s)
            elif isinstance(step, _Pay):
                value = self.wallet(step.invoice)
                if inspect.isawaitable(value):
                    value = await value
            elif isinstance(step, _Redeem):
                value = await self._aredeem(step.request)
            elif isinstance(step, _Solve):
                # Off the event loop: a proof of work must not stall the caller's other tasks.
                value = await asyncio.to_thread(self._solve, step)
            else:
                value = yield step
            try:
                step = flow.send(value)
            except StopIteration:
                return
