"""A CyberPlat processing centre on loopback: vendor-format signed documents, sessions, portability, faults.

It plays the centre with real key files: DIR/secret.key (its own, signs every reply) and DIR/pubkeys.key
(the dealers' keys; each request is verified with the key whose serial its signer line names). With the
vendor's test keys one directory serves both sides; `write_demo_keys` makes a distinct pair for each.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from email.parser import BytesParser
from email.policy import HTTP
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kiosk.emulators.processing.core import BalanceLow, ProcessingEmulator
from kiosk.gateways.cyberplat_sign import (
    SignatureError,
    decode_fields,
    encode_fields,
    sign,
    verify,
)
from kiosk.gateways.ipriv_keygen import generate_key, write_key_files
from kiosk.gateways.ipriv_keys import KeyFileError, load_public_ring, load_secret_key

AMOUNT = re.compile(r"\d{1,9}\.\d{2}")
STEPS = {"pay_check": "check", "pay": "pay", "pay_status": "status"}
# the fault kinds only a signed document has (the rest of the ladder is ProcessingEmulator.fault_after's);
# same length, altered data: the signature no longer verifies
MANGLES = {"bad-signature": lambda document: document.replace(b"ERROR=", b"ERRXR=", 1)}
DEMO_PASSWORD = "1111111111"  # as on the vendor's test keys; these keys never guard real money
DEALER_SERIAL, CENTRE_SERIAL = 17040, 64200


def write_demo_keys(directory: str | Path, bits: int = 1024) -> dict[str, Any]:
    """Create (once) DIR/centre and DIR/terminal in the vendor format; returns the adapter's key options.

    Each side gets its own secret.key and the same pubkeys.key (both public keys, each self-certified);
    the emulator is started with keys_dir=DIR/centre.
    """
    directory = Path(directory)
    centre_dir, terminal_dir = directory / "centre", directory / "terminal"
    if not (centre_dir / "secret.key").exists() or not (terminal_dir / "secret.key").exists():
        dealer = generate_key("DEALER", DEALER_SERIAL, bits)
        centre = generate_key("CYBERPLAT", CENTRE_SERIAL, bits)
        ring = [(dealer, dealer), (centre, centre)]
        write_key_files(terminal_dir, dealer, DEMO_PASSWORD, ring)
        write_key_files(centre_dir, centre, DEMO_PASSWORD, ring)
    return {"secret_key": str(terminal_dir / "secret.key"), "secret_key_password": DEMO_PASSWORD,
            "public_keys": str(terminal_dir / "pubkeys.key"), "server_key_serial": CENTRE_SERIAL}


def form_field(raw: bytes, name: str, content_type: str = "") -> bytes | None:
    """One field of a urlencoded text (query or POST body) or a multipart/form-data body, as raw bytes.

    The value is Windows-1251, so it is never decoded here (a form parser would read it as UTF-8).
    """
    if content_type.lower().startswith("multipart/form-data"):
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
        for part in message.iter_parts():
            if part.get_param("name", header="content-disposition") == name:
                payload = part.get_payload(decode=True)
                return payload if isinstance(payload, bytes) else None
        return None
    for pair in raw.split(b"&"):
        key, sep, value = pair.partition(b"=")
        if sep and unquote_to_bytes(key.replace(b"+", b" ")) == name.encode():
            return unquote_to_bytes(value.replace(b"+", b" "))
    return None


class CyberplatEmulator(ProcessingEmulator):
    """/cgi-bin/<gw>/<gw>_pay_check.cgi, _pay.cgi, _pay_status.cgi [/operator]: POST form or GET inputmessage."""

    protocol = "cyberplat"

    def __init__(self, keys_dir: str | Path, *args: Any, key_password: str | None = DEMO_PASSWORD,
                 sd: str = "17031", min_sum: int = 100, max_sum: int = 15_000_00, **kwargs: Any) -> None:
        keys = Path(keys_dir)
        for needed in ("secret.key", "pubkeys.key"):
            if not (keys / needed).is_file():
                raise KeyFileError(f"{keys}: no {needed} (the centre's secret key and the dealers' key ring)")
        self.secret = load_secret_key(keys / "secret.key", key_password)
        self.dealer_keys = load_public_ring(keys / "pubkeys.key")
        super().__init__(*args, **kwargs)
        self.sd = sd
        self.min_sum, self.max_sum = min_sum, max_sum
        self.pending_polls = 0  # status polls answered "in progress" before the final answer
        self.lose_sessions = 0  # the next N sessions a check registers are lost by the centre right after it
        self.ported: dict[str, str] = {}  # number -> GATEWAY_OUT

    def app(self) -> Starlette:
        """The ASGI app."""
        methods = ["POST", "GET"]
        return Starlette(routes=[Route("/cgi-bin/{gw}/{script}", self.handle, methods=methods),
                                 Route("/cgi-bin/{gw}/{script}/{operator}", self.handle, methods=methods),
                                 Route("/_admin", self.admin, methods=["POST"])])

    def control(self, line: str) -> str:
        """Base controls plus: port NUMBER GATEWAY_OUT, pending-polls N, lose-sessions N; reset forgets them."""
        words = line.split()
        if words == ["reset"]:
            self.pending_polls = self.lose_sessions = 0
            self.ported.clear()
        if words[:1] == ["port"] and len(words) == 3:
            self.ported[words[1]] = words[2]
            return self.status_line()
        if words[:1] == ["pending-polls"] and len(words) == 2:
            self.pending_polls = int(words[1])
            return self.status_line()
        if words[:1] == ["lose-sessions"] and len(words) == 2:
            self.lose_sessions = int(words[1])
            return self.status_line()
        return super().control(line)

    async def handle(self, request: Request) -> Response:
        """One signed request."""
        gw, script = request.path_params["gw"], request.path_params["script"]
        step = script.removeprefix(f"{gw}_").removesuffix(".cgi")
        if step not in STEPS or not script.startswith(f"{gw}_") or not script.endswith(".cgi"):
            return Response(b"not found", 404)
        fault = await self.prelude(STEPS[step])
        raw = await request.body() if request.method == "POST" else request.scope["query_string"]
        message = form_field(raw, "inputmessage", request.headers.get("content-type", "")) or b""
        early = await self.fault_before(request, fault)
        if early is not None:
            return early
        try:
            data, _signer = verify(message, self.dealer_keys)
            fields = decode_fields(data)
            reply = self.process(step, gw, fields, request.path_params.get("operator", ""))
        except SignatureError as exc:
            fields, reply = {}, {"ERROR": "6", "RESULT": "1", "ERRMSG": f"bad signature: {exc}"[:200]}
        reply = {"DATE": datetime.now().strftime("%d.%m.%Y %H:%M:%S"), "SESSION": fields.get("SESSION", ""),
                 **reply}
        document = sign(encode_fields(reply), self.secret)
        spoiled = await self.fault_after(request, fault, document, MANGLES)
        if spoiled is None:
            return Response(b"")
        return Response(spoiled, 200, media_type="text/plain; charset=windows-1251")

    def process(self, step: str, gw: str, fields: dict[str, str], operator: str = "") -> dict[str, str]:
        """The protocol itself."""
        session = fields.get("SESSION", "")
        if fields.get("SD") not in (None, self.sd) and step != "pay_status":
            return {"ERROR": "2", "RESULT": "1"}
        if not re.fullmatch(r"[A-Za-z0-9]{1,20}", session):
            return {"ERROR": "11", "RESULT": "1"}
        with self.ledger.lock:
            sessions = self.ledger.extra.setdefault("sessions", {})
            known = sessions.get(session)
            if step == "pay_status":
                return self._status(session, known)
            number = fields.get("NUMBER") or fields.get("ACCOUNT") or ""
            try:
                if not AMOUNT.fullmatch(fields.get("AMOUNT", "")):
                    raise InvalidOperation
                amount = int(Decimal(fields["AMOUNT"]) * 100)
            except InvalidOperation:
                return {"ERROR": "7", "RESULT": "1", "ERRMSG": "bad amount"}
            if step == "pay_check":
                if known is not None and fields.get("REQ_TYPE") != "1":
                    return {"ERROR": "1", "RESULT": "1", "ERRMSG": "session already exists"}
                refusal = self._refusal(number, amount)
                if refusal:
                    return refusal
                if fields.get("REQ_TYPE") != "1":
                    # A lost session (a centre restart, an expired check) stays spent: its SESSION is never
                    # accepted again, and pay and pay_status answer ERROR=11 for it.
                    state = "lost" if self.lose_sessions > 0 else "checked"
                    self.lose_sessions = max(0, self.lose_sessions - 1)
                    sessions[session] = {"state": state, "number": number, "amount": amount, "gw": gw,
                                         "operator": operator}
                    self.ledger.save()
                subscriber = self.ledger.subscriber(number)
                assert subscriber is not None
                reply = {"ERROR": "0", "RESULT": "0", "OPNAME": gw.upper(), "ADDINFO": subscriber.name,
                         "REST": f"{self.ledger.balance // 100}.{self.ledger.balance % 100:02d}"}
                if number in self.ported:
                    reply.update(GATEWAY_IN=gw, GATEWAY_OUT=self.ported[number])
                return reply
            if known is None or known["state"] == "lost":
                return {"ERROR": "11", "RESULT": "1", "ERRMSG": "session does not exist"}
            if (known["gw"], known.get("operator", "")) != (gw, operator):
                return {"ERROR": "37", "RESULT": "1", "ERRMSG": "other gateway than the check"}
            if (known["number"], known["amount"]) != (number, amount):
                return {"ERROR": "17" if known["number"] != number else "18", "RESULT": "1"}
            if known["state"] == "paid":
                if self.broken_duplicates:
                    return {"ERROR": "36", "RESULT": "1", "ERRMSG": "already completed"}
                return {"ERROR": "0", "RESULT": "0", "TRANSID": known["transid"], "AUTHCODE": known["transid"]}
            try:
                booking = self.ledger.book(f"session:{session}", number, amount, gw)
            except BalanceLow:
                return {"ERROR": "21", "RESULT": "1", "ERRMSG": "dealer funds insufficient"}
            known.update(state="paid", transid=booking.external_id, polls=0)
            self.ledger.save()
            return {"ERROR": "0", "RESULT": "0", "TRANSID": booking.external_id, "AUTHCODE": booking.external_id}

    def _status(self, session: str, known: dict[str, Any] | None) -> dict[str, str]:
        if known is None or known["state"] == "lost":
            return {"ERROR": "11", "RESULT": "1", "ERRMSG": "session does not exist"}
        if known["state"] == "checked":
            return {"ERROR": "0", "RESULT": "1"}
        known["polls"] = known.get("polls", 0) + 1
        if known["polls"] <= self.pending_polls:
            return {"ERROR": "0", "RESULT": "3", "TRANSID": known["transid"]}
        return {"ERROR": "0", "RESULT": "7", "TRANSID": known["transid"], "AUTHCODE": known["transid"]}

    def _refusal(self, number: str, amount: int) -> dict[str, str] | None:
        if not re.fullmatch(r"[0-9A-Za-z]{1,20}", number):
            return {"ERROR": "8", "RESULT": "1", "ERRMSG": "bad number format"}
        if self.ledger.subscriber(number) is None:
            return {"ERROR": "23", "RESULT": "1", "ERRMSG": "wrong number"}
        if amount < self.min_sum or amount > self.max_sum:
            return {"ERROR": "7", "RESULT": "1", "ERRMSG": "bad amount"}
        return None
