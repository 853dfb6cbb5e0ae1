"""A CyberPlat processing on loopback: signed Windows-1251 documents, sessions, portability, faults."""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any
from urllib.parse import unquote_to_bytes

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from kiosk.emulators.processing.core import BalanceLow, ProcessingEmulator
from kiosk.gateways.cyberplat_sign import (
    KeyId,
    SignatureError,
    decode_fields,
    encode_fields,
    load_private_key,
    load_public_key,
    sign,
    verify,
)

AMOUNT = re.compile(r"\d{1,9}\.\d{2}")
STEPS = {"pay_check": "check", "pay": "pay", "pay_status": "status"}
# same length, altered data: the signature no longer verifies
MANGLES = {"bad-signature": lambda document: document.replace(b"ERROR=", b"ERRXR=", 1)}


def write_keys(directory: str | Path, dealer_serial: int = 17033, server_serial: int = 64182) -> dict[str, Any]:
    """Create (once) a dealer and a processing key pair as PEM files; returns the adapter's key options."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    for name in ("dealer", "server"):
        private = directory / f"{name}-private.pem"
        if not private.exists():
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                  serialization.NoEncryption()))
            private.chmod(0o600)
            (directory / f"{name}-public.pem").write_bytes(key.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return {"private_key": str(directory / "dealer-private.pem"), "key_serial": dealer_serial,
            "server_public_key": str(directory / "server-public.pem"), "server_key_serial": server_serial}


class CyberplatEmulator(ProcessingEmulator):
    """POST /cgi-bin/<gw>/<gw>_pay_check.cgi, _pay.cgi, _pay_status.cgi with inputmessage=<signed document>."""

    protocol = "cyberplat"

    def __init__(self, keys_dir: str | Path, *args: Any, dealer_serial: int = 17033, server_serial: int = 64182,
                 hash_name: str = "md5", sd: str = "17031", min_sum: int = 100, max_sum: int = 15_000_00,
                 **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        write_keys(keys_dir, dealer_serial, server_serial)
        keys = Path(keys_dir)
        self.dealer_keys = {dealer_serial: load_public_key(keys / "dealer-public.pem")}
        self.server_key = load_private_key(keys / "server-private.pem")
        self.server_id = KeyId("CYBERPLAT", server_serial)
        self.hash, self.sd = hash_name, sd
        self.min_sum, self.max_sum = min_sum, max_sum
        self.pending_polls = 0  # status polls answered "in progress" before the final answer
        self.ported: dict[str, str] = {}  # number -> GATEWAY_OUT

    def app(self) -> Starlette:
        """The ASGI app."""
        return Starlette(routes=[Route("/cgi-bin/{gw}/{script}", self.handle, methods=["POST"]),
                                 Route("/_admin", self.admin, methods=["POST"])])

    def control(self, line: str) -> str:
        """Base controls plus: port NUMBER GATEWAY_OUT, pending-polls N."""
        words = line.split()
        if words[:1] == ["port"] and len(words) == 3:
            self.ported[words[1]] = words[2]
            return self.status_line()
        if words[:1] == ["pending-polls"] and len(words) == 2:
            self.pending_polls = int(words[1])
            return self.status_line()
        return super().control(line)

    async def handle(self, request: Request) -> Response:
        """One signed request."""
        gw, script = request.path_params["gw"], request.path_params["script"]
        step = script.removeprefix(f"{gw}_").removesuffix(".cgi")
        if step not in STEPS:
            return Response(b"not found", 404)
        fault = await self.prelude(STEPS[step])
        raw = await request.body()
        message = b""
        for part in raw.split(b"&"):
            key, _, value = part.partition(b"=")
            if key == b"inputmessage":
                message = unquote_to_bytes(value.replace(b"+", b" "))
        early = await self.fault_before(request, fault)
        if early is not None:
            return early
        try:
            data, _signer = verify(message, self.dealer_keys, self.hash)
            fields = decode_fields(data)
            reply = self.process(step, gw, fields)
        except SignatureError:
            fields, reply = {}, {"ERROR": "6", "RESULT": "1", "ERRMSG": "bad signature"}
        reply = {"DATE": datetime.now().strftime("%d.%m.%Y %H:%M:%S"), "SESSION": fields.get("SESSION", ""),
                 **reply}
        document = sign(encode_fields(reply), self.server_key, self.server_id, KeyId("DEALER", 0), self.hash)
        spoiled = await self.fault_after(request, fault, document, MANGLES)
        if spoiled is None:
            return Response(b"")
        return Response(spoiled, 200, media_type="text/plain; charset=windows-1251")

    def process(self, step: str, gw: str, fields: dict[str, str]) -> dict[str, str]:
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
                    sessions[session] = {"state": "checked", "number": number, "amount": amount, "gw": gw}
                    self.ledger.save()
                subscriber = self.ledger.subscriber(number)
                assert subscriber is not None
                reply = {"ERROR": "0", "RESULT": "0", "OPNAME": gw.upper(), "ADDINFO": subscriber.name,
                         "REST": f"{self.ledger.balance // 100}.{self.ledger.balance % 100:02d}"}
                if number in self.ported:
                    reply.update(GATEWAY_IN=gw, GATEWAY_OUT=self.ported[number])
                return reply
            if known is None:
                return {"ERROR": "11", "RESULT": "1", "ERRMSG": "session does not exist"}
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
        if known is None:
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
