"""`devices probe [PORT...]`: which bill validator protocol answers on each serial port, and who it is.

A 2D barcode scanner answers nothing; see probe_scanner for what probe can and cannot know about one.

Probing only asks (POLL, identification, simple poll; ID003 status and version; SSP sync, serial number and
setup): it never resets a device or moves a bill.
Prints a JSON list, one object per port; exit status 0 if any device answered, 1 if none did.
"""

from __future__ import annotations

import argparse
import glob
import json
import sys
import time
from collections.abc import Callable

from kiosk.drivers import ccnet_frame as cf
from kiosk.drivers import cctalk_frame as cc
from kiosk.drivers import probe_id003_essp, probe_scanner, probe_shtrih
from kiosk.drivers.serial_port import Reply, SerialPort, wait_reply
from kiosk.errors import DeviceError

DEFAULT_GLOBS = ("/dev/serial/by-id/*", "/dev/ttyUSB*", "/dev/ttyACM*")
CCTALK_MODES = (("simple", "lo_in_source"), ("crc16", "lo_in_source"), ("crc16", "hi_in_source"))


def _exchange(link: SerialPort, frame: bytes, timeout: float, accept: Callable[[bytes], Reply]) -> Reply | None:
    link.discard_input()
    link.write(frame)
    return wait_reply(time.monotonic() + timeout, link, accept)


def probe_ccnet(link: SerialPort, timeout: float) -> dict | None:
    """A CCNET answer to POLL, with identification when the device's state allows it."""
    parser = cf.FrameParser()
    sent = {cf.POLL, cf.IDENTIFICATION}

    def frame(chunk: bytes):
        # On an echoing (ccTalk) line our own request comes back; it is not an answer.
        good = [f for f in parser.feed(chunk) if isinstance(f, cf.Frame) and f.address == cf.ADDR_BILL_VALIDATOR
                and not (len(f.payload) == 1 and f.payload[0] in sent)]
        return good[0] if good else None

    reply = _exchange(link, cf.command(cf.POLL), timeout, frame)
    if reply is None:
        return None
    link.write(cf.command(cf.ACK))
    found = {"protocol": "ccnet", "address": cf.ADDR_BILL_VALIDATOR, "state": f"0x{reply.code:02X}",
             "identity": None}
    time.sleep(0.02)
    parser.reset()
    ident = _exchange(link, cf.command(cf.IDENTIFICATION), timeout, frame)
    if ident is not None and len(ident.payload) >= 27:
        link.write(cf.command(cf.ACK))
        found["identity"] = {"model": ident.payload[:15].decode("ascii", "replace").strip(" \x00"),
                             "serial": ident.payload[15:27].decode("ascii", "replace").strip(" \x00")}
    else:
        found["note"] = "identification is answered only while the unit is disabled or initialising"
    return found


def probe_cctalk(link: SerialPort, timeout: float, address: int = cc.BILL_VALIDATOR) -> dict | None:
    """A ccTalk answer to simple poll in any checksum mode, with identity."""
    for checksum, placement in CCTALK_MODES:
        codec = cc.Codec(checksum, placement)
        parser = cc.PacketParser(codec)

        def ask(header: int, codec=codec, parser=parser) -> cc.Packet | None:
            parser.reset()

            def reply(chunk: bytes):
                # Echoed requests are addressed to the device; only a packet to the host is an answer.
                good = [p for p in parser.feed(chunk) if p.destination == cc.HOST and p.source in (address, None)]
                return good[0] if good else None
            return _exchange(link, codec.encode(cc.Packet(address, cc.HOST, header)), timeout, reply)

        if ask(cc.SIMPLE_POLL) is None:
            continue
        texts = {}
        for name, header in (("manufacturer", cc.MANUFACTURER_ID), ("product", cc.PRODUCT_CODE),
                             ("firmware", cc.SOFTWARE_REVISION)):
            answer = ask(header)
            texts[name] = answer.data.decode("ascii", "replace").strip() if answer else ""
        serial = ask(cc.SERIAL_NUMBER)
        return {"protocol": "cctalk", "address": address, "checksum": checksum,
                "crc_placement": placement if checksum == "crc16" else None,
                "identity": {"model": f"{texts['manufacturer']} {texts['product']}".strip(),
                             "serial": str(int.from_bytes(serial.data[:3], "little")) if serial else "",
                             "firmware": texts["firmware"]}}
    return None


def probe_port(port: str, timeout: float = 0.3, bauds: tuple[int, ...] = (9600, 19200),
               listen: float = 0.0) -> dict:
    """What answers on one port (a scanner, which answers nothing, by udev or by listening `listen` seconds)."""
    result: dict = {"port": port, "protocol": None}
    for baud in bauds:
        link = SerialPort(port, baud)
        try:
            link.open()
        except DeviceError as exc:
            result["error"] = str(exc)
            return result
        try:
            found = probe_ccnet(link, timeout) or probe_cctalk(link, timeout)
        except DeviceError as exc:
            result["error"] = str(exc)
            return result
        finally:
            link.close()
        try:
            found = found or probe_id003_essp.probe(port, baud, timeout)  # each on its own line format
        except DeviceError as exc:
            result["error"] = str(exc)
            return result
        if found:
            result.update(found, baudrate=baud)
            return result
    try:
        registrar = probe_shtrih.probe(port, timeout)  # at the registrar's own speeds (115200, 4800)
    except DeviceError as exc:
        registrar = {"error": str(exc)}
    if registrar:
        result.update(registrar)
        return result
    scanner = probe_scanner.identify(port, listen)
    if scanner:
        result.update(scanner)
        return result
    result["note"] = ("no CCNET, ccTalk, ID003, SSP or Shtrih-M answer: wrong port, no power, or a validator in pulse mode "
                      "(which never answers on the serial line); " + probe_scanner.NOTE)
    return result


def main(argv: list[str] | None = None) -> int:
    """Probe the given ports (or every USB serial port) and print JSON."""
    parser = argparse.ArgumentParser(prog="kiosk devices probe", description=__doc__.splitlines()[0])
    parser.add_argument("ports", nargs="*", help="serial ports (default: USB serial adapters found)")
    parser.add_argument("--timeout", type=float, default=0.3, help="seconds to wait for each answer")
    parser.add_argument("--baud", type=int, action="append", help="baud rates to try (default 9600, 19200)")
    parser.add_argument("--listen", type=float, default=0.0,
                        help="seconds to listen on a silent port for a 2D scanner's code (scan one meanwhile)")
    args = parser.parse_args(argv)
    ports = args.ports or sorted({p for pattern in DEFAULT_GLOBS for p in glob.glob(pattern)})
    results = [probe_port(p, args.timeout, tuple(args.baud or (9600, 19200)), args.listen) for p in ports]
    print(json.dumps(results, indent=2, ensure_ascii=False))
    return 0 if any(r["protocol"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
