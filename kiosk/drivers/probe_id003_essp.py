"""Probing for JCM ID003 (8E1) and ITL SSP/eSSP (8N2) validators: who answers, and who it is.

Only questions that move nothing: ID003 STATUS REQUEST and VERSION; SSP SYNC, then SERIAL NUMBER and SETUP
REQUEST — through a key exchange with the default fixed key when the unit insists on encryption.
"""

from __future__ import annotations

import time

import serial

from kiosk.drivers import essp_crypto as ec
from kiosk.drivers import essp_frame as ef
from kiosk.drivers import id003_frame as jf
from kiosk.drivers.essp import parse_setup
from kiosk.drivers.id003 import STATES
from kiosk.drivers.serial_port import SerialPort, wait_reply
from kiosk.errors import DeviceError


def _ask(link: SerialPort, wire: bytes, timeout: float, feed):  # noqa: ANN001, ANN202 - feed's type is per parser
    link.discard_input()
    link.write(wire)
    return wait_reply(time.monotonic() + timeout, link, feed)


def _id003(link: SerialPort, code: int, timeout: float) -> jf.Frame | None:
    parser, echo = jf.FrameParser(), [jf.Frame(code)]

    def frame(chunk: bytes) -> jf.Frame | None:
        for item in parser.feed(chunk):
            if item in echo:
                echo.clear()  # an echoing line hands our own request back first (STATUS REQUEST = "idling")
            elif isinstance(item, jf.Frame):
                return item
        return None
    return _ask(link, jf.encode(code), timeout, frame)


def probe_id003(link: SerialPort, timeout: float) -> dict | None:
    """An ID003 answer to STATUS REQUEST, with the version string."""
    status = _id003(link, jf.STATUS_REQUEST, timeout)
    if status is None:
        return None
    version = _id003(link, jf.GET_VERSION, timeout)
    text = version.data.decode("ascii", "replace").strip(" \x00") if version and version.data else ""
    return {"protocol": "id003", "state": STATES.get(status.code, f"0x{status.code:02X}"),
            "identity": {"model": text.split(" ")[0], "firmware": text}}


class _SspAsker:
    """SSP questions with the sequence flag kept, optionally encrypted."""

    def __init__(self, link: SerialPort, timeout: float) -> None:
        self.link, self.timeout, self.seq = link, timeout, True
        self.crypto: ec.Channel | None = None
        self.parser = ef.PacketParser()

    def ask(self, command: bytes) -> bytes | None:
        data = self.crypto.seal_command(command) if self.crypto else command

        def packet(chunk: bytes) -> ef.Packet | None:
            good = [p for p in self.parser.feed(chunk) if isinstance(p, ef.Packet) and p.address == 0]
            return good[0] if good else None
        self.parser.reset()
        reply = _ask(self.link, ef.encode(data, self.seq), self.timeout, packet)
        if reply is None:
            return None
        self.seq = not self.seq
        if self.crypto and reply.data[:1] == bytes((ef.STEX,)):
            try:
                return self.crypto.open_reply(reply.data)
            except ec.CryptoError:
                return None
        return reply.data


def probe_essp(link: SerialPort, timeout: float) -> dict | None:
    """An SSP answer to SYNC, with serial number and channel table (encrypted if the unit wants it)."""
    asker = _SspAsker(link, timeout)
    if asker.ask(bytes((ef.SYNC,))) != bytes((ef.OK,)):
        return None
    found: dict = {"protocol": "essp", "encryption_required": False, "identity": None}
    serial_reply = asker.ask(bytes((ef.SERIAL_NUMBER,)))
    if serial_reply == bytes((ef.KEY_NOT_SET,)):
        found["encryption_required"] = True
        generator, modulus = ec.dh_primes()
        secret = ec.random_exponent()
        answers = [asker.ask(bytes((ef.SET_GENERATOR,)) + ef.le(generator)) or b"",
                   asker.ask(bytes((ef.SET_MODULUS,)) + ef.le(modulus)) or b"",
                   asker.ask(bytes((ef.REQUEST_KEY_EXCHANGE,)) + ef.le(pow(generator, secret, modulus))) or b""]
        if any(a[:1] != bytes((ef.OK,)) for a in answers) or len(answers[2]) < 9:
            found["note"] = "the unit wants encryption and refused the key exchange (not the default fixed key?)"
            return found
        negotiated = pow(int.from_bytes(answers[2][1:9], "little"), secret, modulus)
        asker.crypto = ec.Channel(ec.session_key(ec.DEFAULT_FIXED_KEY, negotiated))
        serial_reply = asker.ask(bytes((ef.SERIAL_NUMBER,)))
    setup = asker.ask(bytes((ef.SETUP_REQUEST,)))
    if serial_reply and serial_reply[:1] == bytes((ef.OK,)) and setup and setup[:1] == bytes((ef.OK,)):
        try:
            bills, firmware, protocol = parse_setup(setup[1:])
        except DeviceError:
            return found
        found["identity"] = {"serial": str(int.from_bytes(serial_reply[1:5], "big")), "firmware": firmware,
                             "protocol_version": protocol, "channels": {ch: b.value for ch, b in bills.items()}}
    return found


def probe(port: str, baud: int, timeout: float) -> dict | None:
    """ID003 on 8E1, then SSP on 8N2, at one baud rate; None if neither answers."""
    for line, ask in (((serial.PARITY_EVEN, serial.STOPBITS_ONE), probe_id003),
                      ((serial.PARITY_NONE, serial.STOPBITS_TWO), probe_essp)):
        link = SerialPort(port, baud, parity=line[0], stopbits=line[1])
        link.open()
        try:
            found = ask(link, timeout)
        finally:
            link.close()
        if found:
            return found
    return None
