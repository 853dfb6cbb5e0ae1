"""`emulate scanner`: a serial 2D barcode scanner on a pseudo-terminal that "scans" what stdin tells it to.

The first line printed is `PORT=<tty path>`; then each command line gets one answer line, `ok …` or
`error: …`. Like a real scanner it never answers the host: whatever the host sends (a validator probe's
polls) is read and ignored.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from pathlib import Path

from kiosk.drivers.scanner import parse_affix
from kiosk.emulators.control_line import serve
from kiosk.emulators.pty_port import PtyPort

HELP = ("commands: scan <text> | scan-file <path> | scan-hex <hex> | scan-partial <text> | unplug | replug | "
        "status | help | quit")


class ScannerEmulator:
    """The scanner: a pty whose master side sends prefix + code + suffix for every scan."""

    def __init__(self, prefix: bytes = b"", suffix: bytes = b"\r", encoding: str = "utf-8",
                 link: str | None = None) -> None:
        self.prefix, self.suffix, self.encoding = prefix, suffix, encoding
        self.port = PtyPort(link)
        self.scans = 0
        self.heard = 0  # bytes the host sent; a scanner answers none of them
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def path(self) -> str:
        """What a driver opens."""
        return self.port.path

    def start(self) -> None:
        """Start draining the host's bytes (so its writes never block, as on a real UART)."""
        self._thread = threading.Thread(target=self._drain, name="emulator-scanner", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop and remove the pty."""
        self._stop.set()
        if self._thread:
            self._thread.join(5)
            self._thread = None
        with self._lock:
            self.port.close()

    def _drain(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                data = self.port.read(0) if self.port.is_open else b""
            self.heard += len(data)
            if not data:
                self._stop.wait(0.02)

    def scan(self, code: bytes, complete: bool = True) -> str:
        """Send one code as the scanner would (without its suffix when `complete` is False)."""
        with self._lock:
            if not self.port.is_open:
                return "error: unplugged; replug first"
            self.port.write(self.prefix + code + (self.suffix if complete else b""))
        self.scans += 1
        return f"ok scanned {len(code)} bytes"

    def unplug(self) -> str:
        """The scanner's cable is pulled: the pty disappears."""
        with self._lock:
            self.port.close()
        return "ok unplugged"

    def replug(self) -> str:
        """The scanner is back (a new pty under the same link)."""
        with self._lock:
            self.port.open()
        return f"ok replugged {self.path}"

    def status(self) -> dict:
        """What the emulator has done so far."""
        return {"device": "scanner", "port": self.path, "plugged": self.port.is_open, "scans": self.scans,
                "heard_bytes": self.heard, "suffix": self.suffix.hex(), "prefix": self.prefix.hex()}


def execute(emu: ScannerEmulator, line: str) -> str:
    """Run one control command and return its one-line answer."""
    verb, _, rest = line.strip().partition(" ")
    verb = verb.lower()
    try:
        if verb == "scan" and rest:
            return emu.scan(rest.encode(emu.encoding))
        if verb == "scan-partial" and rest:
            return emu.scan(rest.encode(emu.encoding), complete=False)
        if verb == "scan-file" and rest:
            return emu.scan(Path(rest).read_bytes().rstrip(b"\r\n"))
        if verb == "scan-hex" and rest:
            return emu.scan(bytes.fromhex(rest))
        if verb == "unplug" and not rest:
            return emu.unplug()
        if verb == "replug" and not rest:
            return emu.replug()
        if verb == "status" and not rest:
            return "ok " + json.dumps(emu.status(), separators=(",", ":"))
        if verb == "help":
            return "ok " + HELP
    except (OSError, ValueError) as exc:  # a missing file, bad hex, text the encoding cannot hold
        return f"error: {line.strip()!r}: {exc}"
    return f"error: unknown or malformed command {line.strip()!r}; {HELP}"


def build_parser() -> argparse.ArgumentParser:
    """The command-line options."""
    parser = argparse.ArgumentParser(prog="kiosk emulate scanner", description=__doc__.splitlines()[0])
    parser.add_argument("--suffix", default="cr", help="sent after each code: cr, lf, crlf, tab, none or hex "
                                                       "(default: %(default)s)")
    parser.add_argument("--prefix", default="none", help="sent before each code (default: %(default)s)")
    parser.add_argument("--encoding", default="utf-8", help="bytes of `scan <text>` (default: %(default)s)")
    parser.add_argument("--link", help="also reach the pty through this stable path (a symlink)")
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the emulator until `quit` or end of input; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        "".encode(args.encoding)  # an unknown encoding is refused before any pty exists
        emu = ScannerEmulator(parse_affix(args.prefix), parse_affix(args.suffix), args.encoding, args.link)
    except (LookupError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return serve(emu, lambda line: execute(emu, line))


if __name__ == "__main__":
    sys.exit(main())
