"""An OSMP (QIWI provider protocol) server on loopback: getInfo, check, pay, status, cancel, with faults and quirks.

Switches (control lines) model the real providers a terminal meets:
  profile osmp|osmp-status|ubilling|abills-old|rebooking   how a repeated pay is answered, whether status exists
  account-format PRV_ID REGEX                               that provider's account rule (default: 1–200 printable)
The demo utility accounts (prv_id 40, kiosk/utility_demo.py) answer their debt by service and meters as <fields>,
and the extra parameters of every booked pay (meter readings) are kept: fields_of(txn_id), docs/osmp-utility.md.
"""

from __future__ import annotations

import base64
import re
from decimal import Decimal, InvalidOperation
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kiosk.emulators.processing.core import BalanceLow, Booking, ProcessingEmulator
from kiosk.utility_demo import demo_osmp_fields

# Real clients send "1", "1.5" and "10.45": up to two decimals, and a dot only with digits after it.
SUM = re.compile(r"\d{1,9}(\.\d{1,2})?")
DEFAULT_ACCOUNT = r"\S{1,200}"
COMMANDS = ("getInfo", "check", "pay", "status", "cancel")
# The protocol's own parameters; any other parameter of a booked pay (meter readings...) is kept as received.
PROTOCOL = frozenset({"command", "txn_id", "txn_date", "account", "sum", "ccy", "prv_id", "prv_txn"})
# How each provider profile answers a pay whose txn_id it has booked already, and whether it knows `status`.
REPEATS: dict[str, tuple[str, bool]] = {
    "osmp": ("same", False),
    "osmp-status": ("same", True),
    "ubilling": ("duplicate-300", False),
    "abills-old": ("double-8", False),
    "rebooking": ("rebook", False),
}
BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
                  + b"".join(b'<!ENTITY %s "%s">' % (chr(98 + i).encode(), (b"&%s;" % chr(97 + i).encode()) * 10)
                             for i in range(8))
                  + b"]><response><result>0</result><comment>&i;</comment></response>")
EXTERNAL_ENTITY = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                   b"<response><osmp_txn_id>1</osmp_txn_id><result>0</result><comment>&x;</comment></response>")


def _undeclared_cp1251(body: bytes) -> bytes:
    """The reply as some PHP frontends send it: Windows-1251 bytes, no encoding in the declaration."""
    text = body.decode("utf-8").replace(' encoding="UTF-8"', "")
    return text.encode("cp1251", "replace") + "<!-- Ответ -->".encode("cp1251")


MANGLES = {
    "billion-laughs": lambda body: BILLION_LAUGHS,
    "external-entity": lambda body: EXTERNAL_ENTITY,
    "huge": lambda body: body.replace(b"<comment>", b"<comment>" + b"x" * (4 << 20)),
    "blank-line": lambda body: b"\r\n" + body,
    "cp1251": _undeclared_cp1251,
}


def _xml(txn: str, result: int, comment: str, prv_txn: str = "", sum_text: str = "",
         fields: dict[str, str] | None = None) -> bytes:
    parts = [f"<osmp_txn_id>{escape(txn)}</osmp_txn_id>"] if txn else []
    if prv_txn:
        parts.append(f"<prv_txn>{escape(prv_txn)}</prv_txn>")
    if sum_text:
        parts.append(f"<sum>{escape(sum_text)}</sum>")
    if fields:
        items = "".join(f"<field{i} name={quoteattr(k)}>{escape(v)}</field{i}>"
                        for i, (k, v) in enumerate(fields.items(), 1))
        parts.append(f"<fields>{items}</fields>")
    parts.append(f"<result>{result}</result><comment>{escape(comment)}</comment>")
    return ('<?xml version="1.0" encoding="UTF-8"?><response>' + "".join(parts) + "</response>").encode()


def _text(kopecks: int) -> str:
    return f"{kopecks // 100}.{kopecks % 100:02d}"


class OsmpEmulator(ProcessingEmulator):
    """OSMP provider server: GET or POST /osmp?command=getInfo|check|pay|status|cancel&txn_id=…&account=…&sum=…"""

    protocol = "osmp"

    def __init__(self, *args: Any, username: str = "", password: str = "", min_sum: int = 100,
                 max_sum: int = 15_000_00, profile: str = "osmp", account_formats: dict[str, str] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.username, self.password = username, password
        self.min_sum, self.max_sum = min_sum, max_sum
        self.profile = ""
        self.repeat, self.status_command = "same", False
        self.set_profile(profile)
        self.account_formats = {prv: re.compile(rx) for prv, rx in (account_formats or {}).items()}

    def set_profile(self, name: str) -> None:
        """Behave like one of the real providers in REPEATS."""
        if name not in REPEATS:
            raise ValueError(f"unknown profile {name!r}; known: {', '.join(REPEATS)}")
        self.profile = name
        self.repeat, self.status_command = REPEATS[name]

    def control(self, line: str) -> str:
        """Base controls plus: profile NAME, account-format PRV_ID REGEX."""
        words = line.split()
        try:
            if words[:1] == ["profile"] and len(words) == 2:
                self.set_profile(words[1])
                return self.status_line()
            if words[:1] == ["account-format"] and len(words) == 3:
                self.account_formats[words[1]] = re.compile(words[2])
                return self.status_line()
        except (ValueError, re.error) as exc:
            return f"error: {exc}"
        if words[:1] == ["reset"]:
            self.set_profile("osmp")
            self.account_formats.clear()
        return super().control(line)

    def status_line(self) -> str:
        """The common status plus this provider's profile."""
        return f"{super().status_line()} profile={self.profile}"

    def app(self) -> Starlette:
        """The ASGI app."""
        return Starlette(routes=[Route("/osmp", self.handle, methods=["GET", "POST"]),
                                 Route("/_admin", self.admin, methods=["POST"])])

    def _authorized(self, request: Request) -> bool:
        if not self.username:
            return True
        expected = "Basic " + base64.b64encode(f"{self.username}:{self.password}".encode()).decode()
        return request.headers.get("authorization", "") == expected

    async def handle(self, request: Request) -> Response:
        """One OSMP request."""
        params = dict(request.query_params)
        if request.method == "POST":
            params.update({k: v for k, v in (await request.form()).items() if isinstance(v, str)})
        command = params.get("command", "")
        fault = await self.prelude(command)
        if not self._authorized(request):
            return Response("unauthorized", 401, {"WWW-Authenticate": 'Basic realm="osmp"'})
        early = await self.fault_before(request, fault)
        if early is not None:
            return early
        body = await self.fault_after(request, fault, self.process(command, params), MANGLES)
        if body is None:
            return Response(b"")
        if fault == "html-page":
            return Response(body, 200, media_type="text/html")
        return Response(body, 200, media_type="text/xml; charset=utf-8")

    # -- the protocol ---------------------------------------------------------------------------------
    def process(self, command: str, params: dict[str, str]) -> bytes:
        """One command, answered with the result codes of the OSMP table."""
        txn = params.get("txn_id", "")
        if command not in COMMANDS or (command == "status" and not self.status_command):
            return _xml(txn, 300, f"unknown command {command!r}")
        if command in ("pay", "status", "cancel") and not txn.isdigit():
            return _xml(txn, 300, "txn_id must be an integer")
        if command == "status":
            return self._status(txn)
        if command == "cancel":
            return self._cancel(txn)
        account, sum_text = params.get("account", ""), params.get("sum", "")
        amount = 0
        if sum_text or command != "getInfo":
            try:
                if not SUM.fullmatch(sum_text):
                    raise InvalidOperation
                amount = int(Decimal(sum_text) * 100)
            except InvalidOperation:
                return _xml(txn, 300, "sum must be a number with up to two decimals, like 10.45")
        refusal = self._refusal(params.get("prv_id", ""), account, amount if sum_text else None)
        if refusal:
            return _xml(txn, *refusal)
        if command != "pay":
            subscriber = self.ledger.subscriber(account)
            assert subscriber is not None  # _refusal said it exists
            # a demo utility account answers its debt by service and its meters (kiosk/utility_demo.py)
            utility = demo_osmp_fields(params.get("prv_id", ""), account)
            return _xml(txn, 0, f"Абонент {subscriber.name}",
                        fields=utility or {"FIO": subscriber.name, "balance": _text(-subscriber.debt)})
        if not re.fullmatch(r"\d{14}", params.get("txn_date", "")):
            return _xml(txn, 300, "txn_date must be YYYYMMDDHHMMSS")
        return self._pay(txn, account, amount, sum_text, params)

    def _pay(self, txn: str, account: str, amount: int, sum_text: str, params: dict[str, str]) -> bytes:
        with self.ledger.lock:
            key = self._next_key(txn)
            done = self.ledger.find(f"txn:{txn}")
            if done is not None and key == f"txn:{txn}":
                return self._repeat(txn, done, account, amount, sum_text)
            try:
                booking = self.ledger.book(key, account, amount, params.get("prv_id", ""), params["txn_date"])
            except BalanceLow:
                return _xml(txn, 1, "dealer balance insufficient, try later")
            extra = {k: v for k, v in params.items() if k not in PROTOCOL}
            if extra:  # readings and other fields: kept as received, for the tests and the demo
                self.ledger.extra.setdefault("fields", {})[key] = extra
                self.ledger.save()
        return _xml(txn, 0, "OK", booking.external_id, sum_text)

    def fields_of(self, txn: str) -> dict[str, str]:
        """The extra fields (beyond the protocol's own) a booked pay of this txn_id carried."""
        with self.ledger.lock:
            return dict(self.ledger.extra.get("fields", {}).get(f"txn:{txn}", {}))

    def _next_key(self, txn: str) -> str:
        """The ledger key for this pay: a re-booking provider books every repeat under a new key."""
        key = f"txn:{txn}"
        if self.repeat != "rebook" or self.ledger.find(key) is None:
            return key
        copies = sum(1 for k in self.ledger.bookings if k.startswith(key + "#"))
        return f"{key}#{copies + 2}"

    def _repeat(self, txn: str, done: Booking, account: str, amount: int, sum_text: str) -> bytes:
        """A pay whose txn_id is booked already, answered the way this provider answers it."""
        if done.cancelled:
            return _xml(txn, 300, "transaction was cancelled")
        if self.repeat == "duplicate-300" or self.broken_duplicates:
            return _xml(txn, 300, "Duplicate transaction")  # Ubilling: no prv_txn
        if self.repeat == "double-8":
            return _xml(txn, 8, "Double request")  # old ABillS
        if done.account != account or done.amount != amount:
            return _xml(txn, 300, "txn_id already used for another payment")
        return _xml(txn, 0, "OK (repeated)", done.external_id, sum_text)

    def _status(self, txn: str) -> bytes:
        done = self.ledger.find(f"txn:{txn}")
        if done is None:
            return _xml(txn, 90, "transaction not found")
        if done.cancelled:
            return _xml(txn, 7, "transaction was cancelled", done.external_id)
        return _xml(txn, 0, "OK", done.external_id, _text(done.amount))

    def _cancel(self, txn: str) -> bytes:
        done = self.ledger.cancel(f"txn:{txn}")
        if done is None:
            return _xml(txn, 300, "transaction not found")
        return _xml(txn, 0, "cancelled", done.external_id, _text(done.amount))

    def _refusal(self, prv_id: str, account: str, amount: int | None) -> tuple[int, str] | None:
        rule = self.account_formats.get(prv_id)
        if not (rule or re.compile(DEFAULT_ACCOUNT)).fullmatch(account):
            return 4, "wrong account format"
        if self.ledger.subscriber(account) is None:
            return 5, "account not found"
        if amount is not None and amount < self.min_sum:
            return 241, "sum too small"
        if amount is not None and amount > self.max_sum:
            return 242, "sum too large"
        return None
