"""What every processing emulator shares: the subscriber ledger, the fault schedule and the loopback server."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import os
import re
import socket
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

# Faults a test (or the admin endpoint) can schedule; "after-booking" ones hit the request that booked.
FAULTS = (
    "drop-before-booking",  # connection aborted before anything is done
    "drop-after-booking",  # the server booked, then the connection dies: the reply is lost
    "http-500",  # 500 without doing anything
    "http-503",  # 503 without doing anything
    "timeout",  # booked, then the reply comes only after `hang_seconds` (the client gives up first)
    "malformed",  # booked, then a reply that is not a valid document
    "huge",  # booked, then a reply of several megabytes
    "billion-laughs",  # booked, then an XML entity-expansion bomb (XML protocols only)
    "external-entity",  # booked, then XML pulling a local file through an external entity
    "bad-signature",  # booked, then a reply whose signature does not verify (signed protocols only)
    "html-page",  # booked, then HTTP 200 with a proxy's or web server's HTML page instead of the reply
    "blank-line",  # booked, then the reply with a blank line before <?xml (XML protocols only)
    "cp1251",  # booked, then the reply in Windows-1251 with no encoding declared (XML protocols only)
)
# Accounts the ledger knows by default: any run of up to 200 printable characters (the OSMP limit).
ACCOUNT_FORMAT = re.compile(r"\S{1,200}")
HTML_PAGE = (b"<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>"
             b"<body><h1>Bad Gateway</h1><p>nginx</p></body></html>\n")
#: protocol-specific ways to spoil a reply body, by fault kind (see ProcessingEmulator.fault_after)
Mangles = Mapping[str, Callable[[bytes], bytes]]


class BalanceLow(Exception):
    """The dealer's balance at the emulated processing does not cover the payment."""


@dataclass(slots=True)
class Subscriber:
    """A payee account as the emulated provider knows it."""

    account: str
    name: str
    debt: int  # kopecks


@dataclass(slots=True)
class Booking:
    """One payment the emulator booked; key is the protocol's id (txn_id, SESSION, idempotency key)."""

    key: str
    external_id: str
    account: str
    amount: int
    provider: str
    at: str
    fingerprint: str = ""
    cancelled: bool = False


class Ledger:
    """Accounts, dealer balance and bookings; thread-safe, optionally persisted atomically to a JSON file."""

    def __init__(self, balance: int = 100_000_000_00, state_file: str | Path | None = None) -> None:
        self.lock = threading.RLock()
        self.state_file = Path(state_file) if state_file else None
        self.initial_balance = balance
        self.balance = balance
        self.bookings: dict[str, Booking] = {}
        self.accounts: dict[str, Subscriber | None] = {}  # overrides; None = does not exist
        self.extra: dict[str, Any] = {}  # protocol-specific durable state (sessions, voided keys)
        self._seq = 0
        if self.state_file and self.state_file.exists():
            self._load()

    def subscriber(self, account: str) -> Subscriber | None:
        """The subscriber behind an account; by default every well-formed account exists except *0000."""
        with self.lock:
            if account in self.accounts:
                return self.accounts[account]
        if not ACCOUNT_FORMAT.fullmatch(account) or account.endswith("0000"):
            return None
        digest = int(hashlib.sha256(account.encode()).hexdigest()[:8], 16)
        surnames = ("Иванов", "Петров", "Сидоров", "Кузнецов", "Смирнов", "Попов")
        return Subscriber(account, f"{surnames[digest % 6]} {chr(0x410 + digest % 28)}.", digest % 500_000)

    def find(self, key: str) -> Booking | None:
        """The booking made under a protocol id, if any."""
        with self.lock:
            return self.bookings.get(key)

    def book(self, key: str, account: str, amount: int, provider: str = "", fingerprint: str = "") -> Booking:
        """Book once: the caller has already checked that key is new; raises BalanceLow."""
        with self.lock:
            if key in self.bookings:
                raise ValueError(f"emulator bug: {key} booked twice")
            if amount > self.balance:
                raise BalanceLow(f"dealer balance {self.balance} < {amount}")
            self._seq += 1
            booking = Booking(key, f"{int(time.time()) % 100000:05d}{self._seq:08d}", account, amount, provider,
                              datetime.now(UTC).isoformat(), fingerprint)
            self.bookings[key] = booking
            self.balance -= amount
            self.save()
            return booking

    def cancel(self, key: str) -> Booking | None:
        """Reverse a booking (once): the amount goes back to the dealer's balance; None if there is none."""
        with self.lock:
            booking = self.bookings.get(key)
            if booking is not None and not booking.cancelled:
                booking.cancelled = True
                self.balance += booking.amount
                self.save()
            return booking

    def reset(self) -> None:
        """Forget every booking and override; balance back to its start."""
        with self.lock:
            self.bookings.clear()
            self.accounts.clear()
            self.extra.clear()
            self.balance = self.initial_balance
            self.save()

    def save(self) -> None:
        """Write the state file atomically (temp file, fsync, rename) so a crash never leaves half a file."""
        if not self.state_file:
            return
        with self.lock:
            data = {"balance": self.balance, "seq": self._seq, "extra": self.extra,
                    "bookings": [asdict(b) for b in self.bookings.values()]}
            self.state_file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=self.state_file.name, suffix=".tmp", dir=self.state_file.parent)
            try:
                with os.fdopen(fd, "w", encoding="utf-8") as fh:
                    json.dump(data, fh, ensure_ascii=False)
                    fh.flush()
                    os.fsync(fh.fileno())
                os.replace(tmp, self.state_file)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
                raise

    def _load(self) -> None:
        assert self.state_file is not None
        data = json.loads(self.state_file.read_text(encoding="utf-8"))
        self.balance, self._seq, self.extra = data["balance"], data["seq"], data.get("extra", {})
        self.bookings = {b["key"]: Booking(**b) for b in data["bookings"]}


class FaultPlan:
    """A queue of scheduled faults, each for the next N requests (optionally of one command only)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queue: list[list[Any]] = []  # [kind, remaining, command or None]
        self.latency_ms = 0
        self.hang_seconds = 5.0

    def add(self, kind: str, count: int = 1, command: str | None = None) -> None:
        """Schedule a fault for the next `count` requests (of `command`, if given)."""
        if kind not in FAULTS:
            raise ValueError(f"unknown fault {kind!r}; known: {', '.join(FAULTS)}")
        with self._lock:
            self._queue.append([kind, count, command])

    def take(self, command: str) -> str | None:
        """The fault for this request, consuming one use of it."""
        with self._lock:
            for entry in self._queue:
                if entry[2] in (None, command):
                    entry[1] -= 1
                    if entry[1] <= 0:
                        self._queue.remove(entry)
                    return str(entry[0])
        return None

    def clear(self) -> None:
        """Drop every scheduled fault and the latency."""
        with self._lock:
            self._queue.clear()
            self.latency_ms = 0

    def pending(self) -> list[tuple[str, int, str | None]]:
        """What is still scheduled."""
        with self._lock:
            return [(k, n, c) for k, n, c in self._queue]


async def drop_connection(request: Request) -> None:
    """Abort the TCP connection without a reply, as a crashing server or a broken link would."""
    # uvicorn's receive() is a bound method of its request cycle, which holds the transport; starlette has no
    # public way to drop a connection, and a 500 would not be the same fault.
    transport = getattr(getattr(request.receive, "__self__", None), "transport", None)
    if transport is None:
        raise RuntimeError("cannot reach the connection to drop it (not running under uvicorn h11)")
    transport.abort()
    await asyncio.sleep(0)  # let connection_lost run, so uvicorn does not try to answer on a dead socket


class ProcessingEmulator:
    """Base of the protocol emulators: ledger, faults, switches, admin commands and an in-process server."""

    protocol = ""

    def __init__(self, state_file: str | Path | None = None, balance: int = 100_000_000_00) -> None:
        self.ledger = Ledger(balance, state_file)
        self.faults = FaultPlan()
        self.broken_duplicates = False  # reply to a repeated request like some real servers do
        self.requests = 0
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- the ASGI app -------------------------------------------------------------------------------
    def app(self) -> Callable[..., Awaitable[None]]:
        """The ASGI application (protocol routes plus /_admin)."""
        raise NotImplementedError

    async def admin(self, request: Request) -> Response:
        """POST /_admin with one control line as the body; replies with the control's answer."""
        line = (await request.body()).decode("utf-8", "replace")
        return PlainTextResponse(self.control(line) + "\n")

    async def prelude(self, command: str) -> str | None:
        """Count the request, apply latency, and return the fault scheduled for it."""
        self.requests += 1
        if self.faults.latency_ms:
            await asyncio.sleep(self.faults.latency_ms / 1000)
        return self.faults.take(command)

    # -- the fault ladder, once for every protocol ------------------------------------------------------
    async def fault_before(self, request: Request, fault: str | None) -> Response | None:
        """The reply for a fault that strikes before anything is done (dropped connection, bare 5xx), or None."""
        if fault == "drop-before-booking":
            await drop_connection(request)
            return Response(b"")
        if fault in ("http-500", "http-503"):
            return Response(b"server error", int(fault[-3:]))
        return None

    async def fault_after(self, request: Request, fault: str | None, body: bytes,
                          mangles: Mangles | None = None) -> bytes | None:
        """The reply body once an after-booking fault has struck; None: the connection was dropped, send nothing.

        `mangles` carries the protocol's own ways to spoil a body (an XML bomb, a broken signature); the
        rest is common: a lost reply, a hang, half a document, a huge one, an HTML page.
        """
        if fault is None:
            return body
        if fault == "drop-after-booking":
            await drop_connection(request)
            return None
        if fault == "timeout":
            await asyncio.sleep(self.faults.hang_seconds)
            return body
        if mangles and fault in mangles:
            return mangles[fault](body)
        if fault == "malformed":
            return body[: len(body) // 2]
        if fault == "huge":
            return body + b" " * (4 << 20)  # trailing blanks: still a valid document, just far too big
        if fault == "html-page":
            return HTML_PAGE
        return body

    # -- control ------------------------------------------------------------------------------------
    def control(self, line: str) -> str:
        """Apply one control line: fault KIND [N [COMMAND]], latency MS, hang S, clear, broken-duplicates on|off,
        balance KOPECKS, account ACC missing|NAME DEBT, reset, status."""
        words = line.split()
        if not words:
            return ""
        cmd, args = words[0], words[1:]
        try:
            if cmd == "fault":
                self.faults.add(args[0], int(args[1]) if len(args) > 1 else 1, args[2] if len(args) > 2 else None)
            elif cmd == "latency":
                self.faults.latency_ms = int(args[0])
            elif cmd == "hang":
                self.faults.hang_seconds = float(args[0])
            elif cmd == "clear":
                self.faults.clear()
            elif cmd == "broken-duplicates":
                self.broken_duplicates = args[0] == "on"
            elif cmd == "balance":
                with self.ledger.lock:
                    self.ledger.balance = int(args[0])
                    self.ledger.save()
            elif cmd == "account":
                with self.ledger.lock:
                    self.ledger.accounts[args[0]] = (None if args[1] == "missing" else
                                                     Subscriber(args[0], args[1], int(args[2]) if len(args) > 2 else 0))
            elif cmd == "reset":
                self.ledger.reset()
                self.faults.clear()
                self.broken_duplicates = False
            elif cmd != "status":
                return f"error: unknown command {cmd!r}"
        except (IndexError, ValueError) as exc:
            return f"error: {exc}"
        return self.status_line()

    def status_line(self) -> str:
        """One line describing the emulator's state."""
        with self.ledger.lock:
            return (f"ok protocol={self.protocol} bookings={len(self.ledger.bookings)} balance={self.ledger.balance} "
                    f"requests={self.requests} latency_ms={self.faults.latency_ms} "
                    f"broken_duplicates={'on' if self.broken_duplicates else 'off'} faults={self.faults.pending()}")

    # -- the loopback server --------------------------------------------------------------------------
    def start(self, port: int = 0, host: str = "127.0.0.1") -> int:
        """Serve on host:port (0 = ephemeral) in a background thread; returns the port once accepting."""
        if self._thread:
            raise RuntimeError("already running")
        # proto must be IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted sockets only then, and
        # without it every keep-alive reply waits ~40 ms on Nagle and delayed ACKs
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            raise
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.app(), http="h11", lifespan="off", log_level="error", access_log=False,
                                timeout_graceful_shutdown=2, backlog=256)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name=f"emulator-{self.protocol}-{self.port}", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                self.stop()
                sock.close()
                raise RuntimeError(f"{self.protocol} emulator did not start")
            time.sleep(0.005)
        return self.port  # the listening socket now belongs to uvicorn's asyncio server, which closes it

    def stop(self) -> None:
        """Stop serving and wait for the thread; safe to call twice."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._server, self._thread = None, None

    @property
    def base_url(self) -> str:
        """http://127.0.0.1:PORT"""
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ProcessingEmulator:
        if not self._thread:
            self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
