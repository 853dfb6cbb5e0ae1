"""A virtual ESC/POS receipt printer: listens like a network printer (TCP) and on a pseudo-terminal.

Each receipt (split at the cut) is written as NNNN.txt and NNNN.png into a folder; one that lost lines to an
empty roll or an open cover is written as NNNN-incomplete.*. The paper sensor can be set at any time, and
the roll can be told to run out after N more lines, to exercise the terminal's "receipt incomplete" path.

Command line (wired into `kiosk emulate printer`)::

    emulate printer --port N --out DIR [--pty] [--model generic-80-42]

prints `PORT=<n>` and/or `TTY=<path>` first, `RECEIPT <path>` for each receipt written, and reads control
commands on stdin: `paper ok|near-end|out`, `cover open|closed`, `paper-out-after N`, `quit`; each is answered
`OK <command>` or `ERROR <why>`.
"""

from __future__ import annotations

import argparse
import os
import selectors
import signal
import socket
import sys
import threading
import time
import tty
from collections.abc import Callable, Sequence
from pathlib import Path

from kiosk.drivers.escpos_render import MODELS
from kiosk.emulators.escpos_interpreter import EscposInterpreter, PrintedReceipt
from kiosk.emulators.printout import save


class VirtualPrinter:
    """One printer with a TCP port and/or a pty, a settable paper sensor and a folder of printouts."""

    def __init__(self, out_dir: str | Path, *, model: str = "generic-80-42", port: int | None = 0,
                 pty: bool = False, host: str = "127.0.0.1",
                 on_saved: Callable[[Path], None] | None = None) -> None:
        paper = MODELS[model]
        self.columns, self.dots = paper.columns, paper.dots
        self.out_dir = Path(out_dir)
        self.interpreter = EscposInterpreter(self.columns, on_receipt=self._on_receipt)
        self.saved: list[Path] = []  # .txt paths, in print order
        self._want_port, self._want_pty, self._host = port, pty, host
        self._on_saved = on_saved
        self._count = 0
        self._changed = threading.Condition()
        self._selector: selectors.BaseSelector | None = None
        self._thread: threading.Thread | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._listener: socket.socket | None = None
        self._pty_master = self._pty_slave = -1
        self.port: int | None = None
        self.tty: str | None = None

    # -- life cycle ---------------------------------------------------------------------------------------
    def start(self) -> VirtualPrinter:
        """Open the port and/or pty and serve them from one background thread."""
        self.out_dir.mkdir(parents=True, exist_ok=True)
        # Continue the numbering of an earlier run: a new printout must never overwrite an old one.
        numbers = [int(p.name[:4]) for p in self.out_dir.glob("[0-9][0-9][0-9][0-9]*.txt")]
        self._count = max(numbers, default=0)
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        if self._want_port is not None:
            self._listener = socket.create_server((self._host, self._want_port))
            self._listener.setblocking(False)
            self.port = self._listener.getsockname()[1]
            self._selector.register(self._listener, selectors.EVENT_READ, "accept")
        if self._want_pty:
            self._pty_master, self._pty_slave = os.openpty()
            # Raw, so CR/LF and control bytes pass untouched; our slave fd stays open so the master never
            # sees a hang-up between two clients.
            tty.setraw(self._pty_slave)
            self.tty = os.ttyname(self._pty_slave)
            self._selector.register(self._pty_master, selectors.EVENT_READ, "pty")
        self._thread = threading.Thread(target=self._serve, name="virtual-printer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close everything; a receipt not yet cut is saved as incomplete."""
        if self._thread is not None:
            self._wake_w.send(b"x")
            self._thread.join(5)
            self._thread = None
        if self._selector is not None:
            for key in list(self._selector.get_map().values()):
                if isinstance(key.fileobj, socket.socket) and key.data == "client":
                    key.fileobj.close()
            self._selector.close()
            self._selector = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for fd in (self._pty_master, self._pty_slave):
            if fd >= 0:
                os.close(fd)
        self._pty_master = self._pty_slave = -1
        self._wake_r.close()
        self._wake_w.close()
        partial = self.interpreter.take_partial()
        if partial is not None:
            partial.incomplete = True
            self._on_receipt(partial)

    def __enter__(self) -> VirtualPrinter:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- switches -----------------------------------------------------------------------------------------
    def set_paper(self, state: str) -> None:
        """Paper sensor: 'ok', 'near-end' or 'out'."""
        self.interpreter.set_paper(state)

    def set_cover(self, is_open: bool) -> None:
        """Open or close the cover."""
        self.interpreter.set_cover(is_open)

    def paper_out_after(self, lines: int) -> None:
        """Let the roll run out after this many more printed lines."""
        self.interpreter.paper_out_after(lines)

    def wait_for_receipts(self, count: int, timeout: float = 5.0) -> list[Path]:
        """Block until `count` receipts have been written; returns their .txt paths."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(self.saved) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError(f"{len(self.saved)} of {count} receipts printed after {timeout}s")
                self._changed.wait(left)
            return list(self.saved)

    # -- internals ----------------------------------------------------------------------------------------
    def _on_receipt(self, receipt: PrintedReceipt) -> None:
        self._count += 1
        stem = f"{self._count:04d}" + ("-incomplete" if receipt.incomplete else "")
        txt, _png = save(receipt, self.out_dir, stem, self.columns, self.dots)
        with self._changed:
            self.saved.append(txt)
            self._changed.notify_all()
        if self._on_saved is not None:
            self._on_saved(txt)

    def _serve(self) -> None:
        assert self._selector is not None
        while True:
            for key, _ in self._selector.select():
                if key.data == "wake":
                    return
                if key.data == "accept":
                    assert self._listener is not None
                    try:
                        conn, _addr = self._listener.accept()
                    except BlockingIOError:
                        continue
                    conn.setblocking(True)
                    self._selector.register(conn, selectors.EVENT_READ, "client")
                elif key.data == "client":
                    self._client(key.fileobj)  # type: ignore[arg-type]
                elif key.data == "pty":
                    try:
                        data = os.read(self._pty_master, 65536)
                    except OSError:
                        continue
                    reply = self.interpreter.feed(data, "pty")
                    if reply:
                        os.write(self._pty_master, reply)

    def _client(self, conn: socket.socket) -> None:
        assert self._selector is not None
        try:
            data = conn.recv(65536)
        except OSError:
            data = b""
        if not data:
            self._selector.unregister(conn)
            conn.close()
            return
        reply = self.interpreter.feed(data, conn)
        if reply:
            try:
                conn.sendall(reply)
            except OSError:
                pass  # the client went away; it will not miss the answer


def control(printer: VirtualPrinter, line: str) -> str:
    """Apply one stdin control command; returns 'quit', '' on success, or an error message."""
    words = line.split()
    try:
        if words == ["quit"]:
            return "quit"
        if len(words) == 2 and words[0] == "paper":
            printer.set_paper(words[1])
        elif len(words) == 2 and words[0] == "cover" and words[1] in ("open", "closed"):
            printer.set_cover(words[1] == "open")
        elif len(words) == 2 and words[0] == "paper-out-after" and words[1].isdigit():
            printer.paper_out_after(int(words[1]))
        elif words:
            return f"unknown command {line.strip()!r}: paper ok|near-end|out, cover open|closed, " \
                   "paper-out-after N, quit"
    except ValueError as exc:
        return str(exc)
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    """`emulate printer --port N --out DIR [--pty] [--model M]`: serve until stdin closes, quit or SIGTERM."""
    parser = argparse.ArgumentParser(prog="kiosk emulate printer", description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, help="TCP port to listen on (0: any free port)")
    parser.add_argument("--out", required=True, type=Path, help="folder for the printed receipts")
    parser.add_argument("--pty", action="store_true", help="also listen on a pseudo-terminal")
    parser.add_argument("--model", default="generic-80-42", choices=sorted(MODELS))
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args(argv)
    if args.port is None and not args.pty:
        parser.error("give --port, --pty or both")

    def announce(path: Path) -> None:
        print(f"RECEIPT {path}", flush=True)

    def terminate(_signum: int, _frame: object) -> None:
        raise SystemExit(0)

    printer = VirtualPrinter(args.out, model=args.model, port=args.port, pty=args.pty, host=args.host,
                             on_saved=announce)
    previous = signal.signal(signal.SIGTERM, terminate)
    try:
        printer.start()
        if printer.port is not None:
            print(f"PORT={printer.port}", flush=True)
        if printer.tty is not None:
            print(f"TTY={printer.tty}", flush=True)
        while line := sys.stdin.readline():
            answer = control(printer, line)
            if answer == "quit":
                break
            # Acknowledge, so a driving script knows the switch is set before it sends the next job.
            print(f"ERROR {answer}" if answer else f"OK {line.strip()}", flush=True)
    except SystemExit:
        pass
    finally:
        printer.stop()
        signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
