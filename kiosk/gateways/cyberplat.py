"""CyberPlat dealer protocol: signed KEY=VALUE documents in Windows-1251; check, pay, pay_status per SESSION.

One SESSION (request.session_id) serves check, pay and every status query of one operation. pay() runs the
check and the pay step; a check that says the session already exists is the same operation coming back.
After a pay whose reply was lost, only pay_status is asked, never pay again. A pay_status answering ERROR=11
(no such session: never registered) is RetryLater(new_session=True): the journal mints a new SESSION and
the payment starts again with check + pay under it. Replies are verified with the
processing's public key; one that does not verify is an unknown outcome, never an approval.

Requests and replies are IPRIV documents in the vendor's format (cyberplat_sign). Options: `url` (…/cgi-bin),
`sd`, `ap`, `op`; `secret_key` (the terminal's secret.key) with its password from `secret_key_password`,
`secret_key_password_env` or `secret_key_password_file`; `public_keys` (pubkeys.key) and `server_key_serial`
(the centre's key there, also sent as ACCEPT_KEYS). PEM instead: `private_key`, `key_serial`,
`server_public_key`. A route's `operator` option is appended to check and pay URLs (`…_pay.cgi/205`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus
from zoneinfo import ZoneInfo

import httpx

from kiosk.gateways.base import (
    Approved,
    CheckOutcome,
    Code,
    Declined,
    Gateway,
    Payable,
    PaymentRequest,
    PayOutcome,
    Refused,
    RetryLater,
    Route,
    Unknown,
    Unreachable,
)
from kiosk.gateways.cyberplat_sign import (
    SignatureError,
    decode_fields,
    encode_fields,
    load_server_keys,
    load_signing_key,
    sign,
    verify,
)
from kiosk.gateways.transport import HttpStatus, Lost, NotSent, exchange, http_client, where
from kiosk.money import Money, MoneyError

log = logging.getLogger(__name__)

DECLINES: dict[int, Code] = {
    2: Code.AUTH_FAILED, 3: Code.AUTH_FAILED, 4: Code.AUTH_FAILED, 6: Code.AUTH_FAILED, 134: Code.AUTH_FAILED,
    7: Code.OTHER, 85: Code.OTHER, 8: Code.WRONG_FORMAT, 9: Code.WRONG_FORMAT, 23: Code.ACCOUNT_NOT_FOUND,
    17: Code.OTHER, 18: Code.OTHER, 19: Code.OTHER, 37: Code.OTHER, 38: Code.OTHER, 34: Code.OTHER,
    21: Code.DEALER_BALANCE_LOW, 81: Code.LIMIT_EXCEEDED, 82: Code.LIMIT_EXCEEDED, 83: Code.LIMIT_EXCEEDED,
    84: Code.LIMIT_EXCEEDED, 270: Code.FORBIDDEN,
}
TEMPORARY = frozenset({24, 25, 30, 31, 50})
SESSION_EXISTS = 1
NO_SESSION = 11
# On pay these say "this session was already paid or is being paid": ask pay_status.
IN_DOUBT = frozenset({1, 20, 32, 36})


class CyberplatGateway(Gateway):
    """A CyberPlat processing reached through per-provider CGI URLs."""

    protocol = "cyberplat"

    def __init__(self, name: str, options: Mapping[str, Any], *, transport: httpx.BaseTransport | None = None):
        super().__init__(name, options)
        for key in ("url", "sd", "ap", "op"):
            if options.get(key) in (None, ""):
                raise ValueError(f"gateway {name}: option {key!r} is required")
        self.url = str(options["url"]).rstrip("/")
        self.sd, self.ap, self.op = str(options["sd"]), str(options["ap"]), str(options["op"])
        # The password is read and dropped here, so nothing that prints options can show it.
        self._key = load_signing_key(self.options, f"gateway {name}")
        self._server_keys = load_server_keys(self.options, f"gateway {name}")
        self.server_serial = int(options["server_key_serial"])
        self.tz = ZoneInfo(options["timezone"]) if options.get("timezone") else None
        self.polls = int(options.get("status_polls", 3))
        self.interval = float(options.get("status_interval_seconds", 1.0))
        self.limit = int(options.get("max_reply_bytes", 1 << 20))
        self.portability = {str(k): str(v) for k, v in dict(options.get("portability", {})).items()}
        self._client = http_client(options, transport)
        self._rest: Money | None = None

    def __repr__(self) -> str:
        return f"CyberplatGateway({self.name!r}, {where(self.url)!r}, sd={self.sd})"

    # -- verbs --------------------------------------------------------------------------------------
    def check(self, route: Route, account: str, amount: Money, fields: Mapping[str, str]) -> CheckOutcome:
        """pay_check with REQ_TYPE=1 (number check only) in a session of its own."""
        session = f"C{int(time.time() * 1000)}"[:20]
        params = self._payment_fields(route, session, account, amount, amount, fields)
        params["REQ_TYPE"] = "1"
        try:
            reply = self._call(route, "pay_check", params)
        except (NotSent, Lost, HttpStatus, SignatureError) as exc:
            return Unreachable(str(exc))
        error = _int(reply.get("ERROR"))
        if reply.get("RESULT") == "0" and error == 0:
            details = {k: reply[k] for k in ("OPNAME", "ADDINFO", "PRICE") if reply.get(k)}
            return Payable(details, self._override(reply))
        if error in TEMPORARY or error not in DECLINES:
            return Unreachable(f"ERROR={error}: {reply.get('ERRMSG', '')}")
        return Refused(DECLINES[error], reply.get("ERRMSG", ""), str(error))

    def pay(self, request: PaymentRequest) -> PayOutcome:
        """pay_check then pay in request.session_id, then pay_status until final (or give up as Unknown)."""
        route = request.route
        params = self._payment_fields(route, request.session_id, request.account, request.credited, request.cash,
                                      request.fields)
        try:
            checked = self._call(route, "pay_check", params)
        except (NotSent, Lost, HttpStatus, SignatureError) as exc:
            return RetryLater(f"check: {exc}", not_executed=True)  # a check books nothing
        error = _int(checked.get("ERROR"))
        if not (checked.get("RESULT") == "0" and error == 0) and error != SESSION_EXISTS:
            if error in TEMPORARY or error not in DECLINES:
                return RetryLater(f"check ERROR={error}", not_executed=True, gateway_code=str(error))
            return Declined(DECLINES[error], checked.get("ERRMSG", ""), str(error))
        try:
            paid = self._call(route, "pay", params)
        except NotSent as exc:
            return RetryLater(str(exc), not_executed=True, gateway_code="not-sent")
        except (Lost, SignatureError) as exc:
            return Unknown(str(exc))
        except HttpStatus as exc:
            return Unknown(str(exc)) if exc.status >= 500 else RetryLater(str(exc), gateway_code=f"http-{exc.status}")
        error = _int(paid.get("ERROR"))
        if paid.get("RESULT") == "0" and error == 0:
            return self._poll(request, first=False)
        if error == NO_SESSION:
            # The check registered this session, yet pay does not know it: only pay_status may prove it unknown
            # and so allow a new SESSION (a pay answer alone never does).
            return self._poll(request, first=True)
        if error in IN_DOUBT or error not in DECLINES and error not in TEMPORARY:
            return Unknown(f"pay ERROR={error}: {paid.get('ERRMSG', '')}")
        if error in TEMPORARY:
            return RetryLater(paid.get("ERRMSG", ""), gateway_code=str(error))
        return Declined(DECLINES[error], paid.get("ERRMSG", ""), str(error))

    def status(self, request: PaymentRequest) -> PayOutcome:
        """pay_status for the session, polled to a final answer."""
        return self._poll(request, first=True)

    def balance(self) -> Money | None:
        """The dealer's rest (REST) as last reported by a check."""
        return self._rest

    def close(self) -> None:
        """Close pooled connections."""
        self._client.close()

    # -- internals ----------------------------------------------------------------------------------
    def _poll(self, request: PaymentRequest, first: bool) -> PayOutcome:
        params = {"SESSION": request.session_id, "ACCEPT_KEYS": str(self.server_serial)}
        outcome: PayOutcome = Unknown("no status yet")
        for attempt in range(max(self.polls, 1)):
            if attempt or not first:
                time.sleep(self.interval)
            try:
                reply = self._call(request.route, "pay_status", params)
            except (NotSent, HttpStatus) as exc:
                return RetryLater(f"status: {exc}")
            except (Lost, SignatureError) as exc:
                outcome = Unknown(f"status: {exc}")
                continue
            error, result = _int(reply.get("ERROR")), _int(reply.get("RESULT"))
            if error == NO_SESSION:
                # Never registered: the protocol wants the payment started again (check + pay) under a new SESSION.
                return RetryLater("session not registered at the centre; start again under a new SESSION",
                                  not_executed=True, gateway_code=str(error), new_session=True)
            if result == 7:
                if error == 0:
                    return Approved(reply.get("TRANSID", ""), reply.get("AUTHCODE", ""))
                return Declined(DECLINES.get(error, Code.OTHER), reply.get("ERRMSG", ""), str(error))
            if result == 1 and error == 0:
                return RetryLater("only checked, never paid", not_executed=True, gateway_code="checked")
            outcome = Unknown(f"in progress (RESULT={result}, ERROR={error})")
        return outcome

    def _payment_fields(self, route: Route, session: str, account: str, credited: Money, cash: Money,
                        fields: Mapping[str, str]) -> dict[str, str]:
        now = datetime.now(self.tz).astimezone(self.tz) if self.tz else datetime.now().astimezone()
        target = str(route.options.get("account_field", "NUMBER"))
        params = {"SD": self.sd, "AP": self.ap, "OP": self.op, "DATE": now.strftime("%d.%m.%Y %H:%M:%S"),
                  "SESSION": session, target: account, "AMOUNT": credited.decimal_text(),
                  "AMOUNT_ALL": cash.decimal_text(), "PAY_TOOL": "0",
                  "TERM_ID": str(self.options.get("term_id", self.ap)), "ACCEPT_KEYS": str(self.server_serial)}
        params.update({k.upper(): v for k, v in fields.items() if k.upper() not in params and k != "account"})
        return params

    def _call(self, route: Route, step: str, params: Mapping[str, str]) -> dict[str, str]:
        gw = route.provider_code or str(route.options.get("gw", ""))
        url = f"{self.url}/{gw}/{gw}_{step}.cgi"
        operator = str(route.options.get("operator", ""))
        if operator and step != "pay_status":  # a multi-operator gateway names the operator after the script
            url += f"/{operator}"
        document = sign(encode_fields(params), self._key)
        body = b"inputmessage=" + quote_plus(document).encode("ascii")
        log.info("cyberplat %s: %s session=%s at %s", self.name, step, params.get("SESSION"), where(url))
        reply = exchange(self._client, self._client.build_request(
            "POST", url, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"}), self.limit)
        if reply.status != 200:
            raise HttpStatus(reply.status)
        try:
            data, _signer = verify(reply.body, self._server_keys)
        except SignatureError as exc:
            log.warning("cyberplat %s: %s reply does not verify: %s", self.name, step, exc)
            raise
        fields = decode_fields(data)
        if fields.get("SESSION") not in (None, "", params.get("SESSION")):
            raise Lost(f"reply is for session {fields.get('SESSION')!r}")
        if fields.get("REST"):
            try:
                self._rest = Money.parse(fields["REST"])
            except MoneyError:
                pass
        return fields

    def _override(self, reply: Mapping[str, str]) -> str:
        """Number portability: GATEWAY_OUT differing from GATEWAY_IN names the provider really serving it."""
        out, into = reply.get("GATEWAY_OUT", ""), reply.get("GATEWAY_IN", "")
        return self.portability.get(out, "") if out and out != into else ""


def _int(value: str | None) -> int:
    try:
        return int(value or "0")
    except ValueError:
        return -1
