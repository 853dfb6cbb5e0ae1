"""One deadline per gateway attempt: a server trickling bytes cannot hold an attempt past the timeout."""

from __future__ import annotations

import socket
import threading
import time
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from kiosk.gateways.deadline import ServerDates
from kiosk.gateways.transport import Lost, exchange, http_client


class TricklingServer:
    """A loopback HTTP server that sends its headers, then one body byte every `gap` seconds, forever."""

    def __init__(self, gap: float) -> None:
        self.gap = gap
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, name="trickle", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.2)
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            with conn:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n"
                             b"Date: Sun, 29 Nov 2026 10:00:00 GMT\r\n\r\n")
                while not self.stop.wait(self.gap):
                    try:
                        conn.sendall(b"x")
                    except OSError:
                        break

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture
def trickle():
    server = TricklingServer(gap=0.2)
    yield server
    server.close()


def test_a_trickling_reply_is_cut_at_the_deadline(trickle):
    # Every byte arrives well within the per-read timeout, so only an overall deadline can end this.
    client = http_client({"timeout": 1}, None)
    try:
        started = time.monotonic()
        with pytest.raises(Lost, match="deadline"):
            exchange(client, client.build_request("GET", f"http://127.0.0.1:{trickle.port}/osmp"), 10**6)
        assert time.monotonic() - started < 2.5
    finally:
        client.close()


def test_a_fast_reply_is_untouched_and_its_date_is_noted():
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=b"ok", headers={"Date": "Sun, 29 Nov 2026 10:00:00 GMT"})

    client = http_client({"timeout": 5}, httpx.MockTransport(handler))
    try:
        reply = exchange(client, client.build_request("GET", "http://gw.example/osmp"), 100)
    finally:
        client.close()
    assert reply.status == 200 and reply.body == b"ok"


def test_server_dates_give_the_terminal_clock_skew():
    dates = ServerDates()
    assert dates.skew_seconds(datetime.now(UTC)) is None
    dates.note("gw", "not a date")
    assert dates.latest() is None
    dates.note("gw", "Sun, 29 Nov 2026 10:00:00 GMT")
    source, skew = dates.skew_seconds(datetime(2026, 11, 29, 9, 50, tzinfo=UTC))
    assert source == "gw" and -601 < skew < -599  # ten minutes behind
    _, skew = dates.skew_seconds(datetime(2026, 11, 29, 10, 0, tzinfo=UTC) + timedelta(days=1))
    assert 86399 < skew < 86401
