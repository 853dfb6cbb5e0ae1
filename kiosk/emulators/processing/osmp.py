"""An OSMP (QIWI provider protocol) server on loopback: check and pay, idempotent by txn_id, with faults."""

from __future__ import annotations

import asyncio
import base64
import re
from decimal import Decimal, InvalidOperation
from xml.sax.saxutils import escape, quoteattr

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kiosk.emulators.processing.core import BalanceLow, ProcessingEmulator, drop_connection

SUM = re.compile(r"\d{1,9}\.\d{2}")
BILLION_LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaaaaaaaa">'
                  + b"".join(b'<!ENTITY %s "%s">' % (chr(98 + i).encode(), (b"&%s;" % chr(97 + i).encode()) * 10)
                             for i in range(8))
                  + b"]><response><result>0</result><comment>&i;</comment></response>")
EXTERNAL_ENTITY = (b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
                   b"<response><osmp_txn_id>1</osmp_txn_id><result>0</result><comment>&x;</comment></response>")


def _xml(txn: str, result: int, comment: str, prv_txn: str = "", sum_text: str = "",
         fields: dict[str, str] | None = None) -> bytes:
    parts = [f"<osmp_txn_id>{escape(txn)}</osmp_txn_id>"]
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


class OsmpEmulator(ProcessingEmulator):
    """OSMP provider server: GET or POST /osmp?command=check|pay&txn_id=…&account=…&sum=…[&txn_date=…]."""

    protocol = "osmp"

    def __init__(self, *args: object, username: str = "", password: str = "", min_sum: int = 100,
                 max_sum: int = 15_000_00, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.username, self.password = username, password
        self.min_sum, self.max_sum = min_sum, max_sum

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
        if fault == "drop-before-booking":
            await drop_connection(request)
            return Response(b"")
        if fault in ("http-500", "http-503"):
            return Response(b"server error", int(fault[-3:]))
        body = self.process(command, params)
        if fault == "drop-after-booking":
            await drop_connection(request)
            return Response(b"")
        if fault == "timeout":
            await asyncio.sleep(self.faults.hang_seconds)
        elif fault == "malformed":
            body = body[: len(body) // 2]
        elif fault == "huge":
            body = body.replace(b"<comment>", b"<comment>" + b"x" * (4 << 20))
        elif fault == "billion-laughs":
            body = BILLION_LAUGHS
        elif fault == "external-entity":
            body = EXTERNAL_ENTITY
        return Response(body, 200, media_type="text/xml; charset=utf-8")

    def process(self, command: str, params: dict[str, str]) -> bytes:
        """The protocol itself: result codes per the OSMP table."""
        txn = params.get("txn_id", "")
        account = params.get("account", "")
        sum_text = params.get("sum", "")
        if command not in ("check", "pay"):
            return _xml(txn, 300, f"unknown command {command!r}")
        if (command == "pay" or txn) and not txn.isdigit():
            return _xml(txn, 300, "txn_id must be an integer")
        if command == "pay" and not re.fullmatch(r"\d{14}", params.get("txn_date", "")):
            return _xml(txn, 300, "txn_date must be YYYYMMDDHHMMSS")
        try:
            if not SUM.fullmatch(sum_text):
                raise InvalidOperation
            amount = int(Decimal(sum_text) * 100)
        except InvalidOperation:
            return _xml(txn, 300, "sum must look like 10.45")
        if command == "pay":
            with self.ledger.lock:
                done = self.ledger.find(f"txn:{txn}")
                if done is not None:
                    if self.broken_duplicates:
                        return _xml(txn, 300, "duplicate transaction")
                    if done.account != account or done.amount != amount:
                        return _xml(txn, 300, "txn_id already used for another payment")
                    return _xml(txn, 0, "OK (repeated)", done.external_id, sum_text)
                refusal = self._refusal(account, amount)
                if refusal:
                    return _xml(txn, *refusal)
                try:
                    booking = self.ledger.book(f"txn:{txn}", account, amount, params.get("prv_id", ""),
                                               params.get("txn_date", ""))
                except BalanceLow:
                    return _xml(txn, 1, "dealer balance insufficient, try later")
            return _xml(txn, 0, "OK", booking.external_id, sum_text)
        refusal = self._refusal(account, amount)
        if refusal:
            return _xml(txn, *refusal)
        subscriber = self.ledger.subscriber(account)
        assert subscriber is not None
        return _xml(txn, 0, "OK", fields={"FIO": subscriber.name,
                                          "debt": f"{subscriber.debt // 100}.{subscriber.debt % 100:02d}"})

    def _refusal(self, account: str, amount: int) -> tuple[int, str] | None:
        if not re.fullmatch(r"[0-9A-Za-z]{1,40}", account):
            return 4, "wrong account format"
        if self.ledger.subscriber(account) is None:
            return 5, "account not found"
        if amount < self.min_sum:
            return 241, "sum too small"
        if amount > self.max_sum:
            return 242, "sum too large"
        return None
