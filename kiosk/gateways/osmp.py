"""OSMP (QIWI provider protocol): XML over HTTP GET or POST, idempotent by txn_id where the provider keeps the rule.

Verbs: getInfo (account details, first step of QIWI's flow; used by check() when option `get_info` is on),
check, pay, status (command=status, where the profile says the provider has it), cancel. How a repeated pay is
answered differs between real providers; the gateway's profile (kiosk.gateways.profiles) says which, and
resend() reads a duplicate answer by it.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode
from xml.etree.ElementTree import Element
from zoneinfo import ZoneInfo

import httpx

from kiosk.gateways import osmp_reply
from kiosk.gateways.base import (
    Approved,
    CheckOutcome,
    Code,
    Declined,
    Execution,
    Gateway,
    Payable,
    PaymentRequest,
    PayOutcome,
    Refused,
    RetryLater,
    Route,
    Unknown,
    Unreachable,
    execution,
)
from kiosk.gateways.profiles import Repeat
from kiosk.gateways.transport import HttpStatus, Lost, NotSent, exchange, http_client, http_outcome, where
from kiosk.money import Money
from kiosk.utility_osmp import osmp_debt

log = logging.getLogger(__name__)

RETRY = frozenset({1, 90})
DECLINES: dict[int, Code] = {
    4: Code.WRONG_FORMAT,
    5: Code.ACCOUNT_NOT_FOUND,
    7: Code.FORBIDDEN,
    8: Code.PROVIDER_UNAVAILABLE,
    31: Code.WRONG_FORMAT,
    32: Code.OTHER,
    79: Code.ACCOUNT_INACTIVE,
    241: Code.AMOUNT_TOO_SMALL,
    242: Code.AMOUNT_TOO_LARGE,
    243: Code.PROVIDER_UNAVAILABLE,
    300: Code.OTHER,
}
# Technical refusals say nothing about this payment; on a resend they must not end it.
TECHNICAL = frozenset({8, 243})
DUPLICATE = re.compile(r"dup|already|repeat|double|повтор|существ|дубл", re.IGNORECASE)
RESERVED = frozenset({"command", "txn_id", "txn_date", "account", "sum", "ccy", "prv_id", "prv_txn"})
NOT_FOUND_ON_STATUS = 90  # our status dialect: "payment not completed" = no such transaction


class OsmpGateway(Gateway):
    """An OSMP provider or processing centre reached over HTTP(S) with optional Basic auth."""

    protocol = "osmp"
    cancellable = True
    default_profile = "osmp"

    def __init__(self, name: str, options: Mapping[str, Any], *,
                 transport: httpx.BaseTransport | None = None) -> None:
        super().__init__(name, options)
        if not options.get("url"):
            raise ValueError(f"gateway {name}: option 'url' is required")
        self.url = str(options["url"])
        self.method = str(options.get("method", "GET")).upper()
        if self.method not in ("GET", "POST"):
            raise ValueError(f"gateway {name}: option 'method' must be GET or POST, got {self.method!r}")
        self.tz = ZoneInfo(options["timezone"]) if options.get("timezone") else None
        self.limit = int(options.get("max_reply_bytes", 1 << 20))
        self.ccy = str(options.get("ccy", ""))
        self.get_info = bool(options.get("get_info", False))
        user = options.get("username", "")
        auth = (str(user), str(options.get("password", ""))) if user else None
        self._client = http_client(options, transport, auth)

    def __repr__(self) -> str:
        return f"OsmpGateway({self.name!r}, {where(self.url)!r})"

    # -- verbs --------------------------------------------------------------------------------------
    def check(self, route: Route, account: str, amount: Money, fields: Mapping[str, str]) -> CheckOutcome:
        """getInfo (when enabled) then check; details from both are shown to the payer before cash."""
        details: dict[str, str] = {}
        if self.get_info:
            info = self.info(route, account, amount)
            if not isinstance(info, Payable):
                return info
            details.update(info.details)
        # check registers nothing, so it gets a throwaway txn_id rather than one of the journal's
        params = self._params("check", route, str(int(time.time() * 1000)), account, fields)
        params["sum"] = amount.decimal_text()
        outcome = self._ask(route, params)
        if isinstance(outcome, Payable):
            answered = {**details, **outcome.details}
            # utility bills: the fields the route names as debts by service (kiosk/utility_osmp.py)
            return Payable(answered, debt=osmp_debt(answered, route.options))
        return outcome

    def info(self, route: Route, account: str, amount: Money | None = None) -> CheckOutcome:
        """command=getInfo: look the subscriber up (name, balance) without registering anything."""
        params = self._params("getInfo", route, "", account, {})
        if amount is not None:
            params["sum"] = amount.decimal_text()
        return self._ask(route, params)

    def pay(self, request: PaymentRequest) -> PayOutcome:
        """command=pay with the journal's txn_id."""
        return self._pay(request, resend=False)

    def resend(self, request: PaymentRequest) -> PayOutcome:
        """The identical pay again; a duplicate answer is read by the profile (booked earlier, or unknown)."""
        return self._pay(request, resend=True)

    def status(self, request: PaymentRequest) -> PayOutcome:
        """command=status; "not found" leads to an identical resend where repeats cannot book twice."""
        outcome = self._status(request)
        if isinstance(outcome, RetryLater) and outcome.not_executed and self.profile.resend_safe:
            return self.resend(request)
        return outcome

    def executed(self, request: PaymentRequest) -> Execution:
        """command=status alone (never the resend status() may follow it with)."""
        return execution(self._status(request))

    def _status(self, request: PaymentRequest) -> PayOutcome:
        params = self._params("status", request.route, str(request.txn_id), request.account, {})
        # not_executed=False: the query did not leave, but the payment it asks about may have
        root = self._exchange(request.route, params, not_executed=False, resend=True)
        if not isinstance(root, Element):
            return root
        code, comment = osmp_reply.result(root)
        if code == 0:
            return Approved((root.findtext("prv_txn") or "").strip(), comment)
        if code == NOT_FOUND_ON_STATUS:
            return RetryLater(f"status: {comment or 'not found'}", not_executed=True, gateway_code=str(code))
        if code in RETRY or code in TECHNICAL:
            return RetryLater(comment, gateway_code=str(code))
        return Unknown(f"status answered {code}: {comment}")

    def cancel(self, request: PaymentRequest, external_id: str = "") -> PayOutcome:
        """command=cancel: Approved(cancel id) once reversed, RetryLater on 90 (not yet confirmed), else refused."""
        prv_txn = external_id
        params = self._params("cancel", request.route, str(request.txn_id), request.account, {})
        if prv_txn:
            params["prv_txn"] = prv_txn
        root = self._exchange(request.route, params, not_executed=True, resend=True)
        if not isinstance(root, Element):
            return root
        code, comment = osmp_reply.result(root)
        if code == 0:
            return Approved((root.findtext("prv_txn") or prv_txn).strip(), comment or "cancelled")
        if code in RETRY:
            return RetryLater(comment, gateway_code=str(code))
        return Declined(DECLINES.get(code, Code.OTHER), comment, str(code))

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    # -- internals ----------------------------------------------------------------------------------
    def _ask(self, route: Route, params: dict[str, str]) -> CheckOutcome:
        """getInfo or check: a temporary code or any fault is Unreachable, so the router may ask another route."""
        try:
            root = self._call(route, params)
        except (NotSent, Lost, HttpStatus) as exc:
            return Unreachable(str(exc))
        code, comment = osmp_reply.result(root)
        if code == 0:
            return Payable(osmp_reply.details(root))
        if code in DECLINES:
            return Refused(DECLINES[code], comment, str(code))
        return Unreachable(f"result {code}: {comment}")

    def _pay(self, request: PaymentRequest, resend: bool) -> PayOutcome:
        params = self._params("pay", request.route, str(request.txn_id), request.account, request.fields)
        params["sum"] = request.credited.decimal_text()
        when = request.accepted_at.astimezone(self.tz) if self.tz else request.accepted_at
        params["txn_date"] = when.strftime("%Y%m%d%H%M%S")
        # Nothing left when not sent; but a resend stands for an earlier attempt that may have been booked.
        root = self._exchange(request.route, params, not_executed=not resend, resend=resend)
        if not isinstance(root, Element):
            return root
        code, comment = osmp_reply.result(root)
        echoed = root.findtext("osmp_txn_id")
        if echoed is not None and echoed.strip() not in ("", str(request.txn_id)):
            return Unknown(f"reply is for txn_id {echoed.strip()!r}, not {request.txn_id}")
        if code == 0:
            return Approved((root.findtext("prv_txn") or "").strip(), comment)
        if resend and self.profile.is_duplicate_answer(code, comment):
            # this provider's declared answer to a txn_id it has booked: the first attempt went through
            return Approved("", f"booked by an earlier attempt (the repeat was answered {code} {comment!r})")
        if code in RETRY:
            return RetryLater(comment, gateway_code=str(code))
        if self.profile.repeat is not Repeat.REBOOKS and (resend or DUPLICATE.search(comment)) and (
                code == 300 or (code == self.profile.duplicate_code and DUPLICATE.search(comment))):
            # a duplicate-looking refusal may well follow a booking whose reply was lost
            return Unknown(f"result {code} on a possible duplicate: {comment}")
        if code in TECHNICAL and resend:
            return RetryLater(comment, gateway_code=str(code))
        if code in DECLINES:
            return Declined(DECLINES[code], comment, str(code))
        return Unknown(f"unexpected result {code}: {comment}")

    def _exchange(self, route: Route, params: dict[str, str], *, not_executed: bool,
                  resend: bool) -> Element | PayOutcome:
        """The reply document, or the outcome a fault means for a pay-like command."""
        try:
            return self._call(route, params)
        except NotSent as exc:
            return RetryLater(str(exc), not_executed=not_executed, gateway_code="not-sent")
        except Lost as exc:
            return Unknown(str(exc))
        except HttpStatus as exc:
            return http_outcome(exc.status, resend)

    def _params(self, command: str, route: Route, txn_id: str, account: str,
                fields: Mapping[str, str]) -> dict[str, str]:
        params = {"command": command, "account": account}
        if txn_id:
            params["txn_id"] = txn_id
        if self.ccy:
            params["ccy"] = self.ccy
        if route.provider_code:
            params["prv_id"] = route.provider_code
        # Extra input fields travel as parameters named after the field; the protocol's own names win.
        params.update({k: v for k, v in fields.items() if k not in RESERVED})
        return params

    def _call(self, route: Route, params: dict[str, str]) -> Element:
        """One exchange; a reply that is not a clean OSMP document is Lost (with the reason), never a decline."""
        url = str(route.options.get("url", self.url))
        if self.method == "POST":
            http_request = self._client.build_request("POST", url, data=params)
        elif "?" not in url:
            # the same bytes httpx's params= makes (urlencode), parsed once instead of twice: ~30 µs a payment
            http_request = self._client.build_request("GET", f"{url}?{urlencode(params)}")
        else:
            http_request = self._client.build_request("GET", url, params=params)
        if log.isEnabledFor(logging.INFO):  # where() parses the URL; not worth it when nobody listens
            log.info("osmp %s: %s txn_id=%s sum=%s at %s", self.name, params["command"], params.get("txn_id", "-"),
                     params.get("sum", "-"), where(url))
        reply = exchange(self._client, http_request, self.limit)
        if reply.status != 200:
            raise HttpStatus(reply.status)
        try:
            return osmp_reply.parse(reply.body)
        except Lost as exc:
            log.warning("osmp %s: refused reply: %s", self.name, exc)
            raise
