"""The terminal's link connection: heartbeats one interval apart share one connection (the service keeps it open
longer than the terminal does), a new connection resumes the TLS session instead of a full mutual-TLS handshake,
and after the service restarts the next heartbeat simply goes over a new connection."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from monitor_support import enrolled

from kiosk.dealer_link.client import KEEP_ALIVE_MARGIN
from provisioning.server import DealerServer, link_keep_alive


@pytest.fixture(scope="module")
def server(dealer_state) -> Iterator[DealerServer]:
    with DealerServer(dealer_state, periodic_tick=0.5) as running:
        yield running


def test_the_service_keeps_an_idle_connection_longer_than_the_terminal(dealer_state, server, database, tmp_path):
    # the terminal lets go first (no request is ever written into a connection the service is closing) and
    # only after its next heartbeat is due
    interval = dealer_state.heartbeat_interval
    with enrolled(server, database, tmp_path, "4101") as link:
        expiry = link.http._transport._pool._keepalive_expiry  # type: ignore[attr-defined]
        assert interval < expiry == link.settings.heartbeat_interval + KEEP_ALIVE_MARGIN
        assert expiry < link_keep_alive(dealer_state)
        for _ in range(3):
            link.heartbeat()
        assert link.tls.handshakes == 1  # three heartbeats, one connection


def test_a_new_connection_resumes_the_tls_session(server, database, tmp_path):
    with enrolled(server, database, tmp_path, "4102") as link:
        path = f"{link.terminal_path}/heartbeat"
        # the service closes this connection after its reply, as an idle one is closed after a while
        reply = link.http.post(path, content=b"{}", headers={**link.signed_headers("POST", path, b"{}"),
                                                             "Connection": "close"})
        assert reply.status_code == 200
        assert (link.tls.handshakes, link.tls.resumed) == (1, 0)
        link.heartbeat()
        assert (link.tls.handshakes, link.tls.resumed) == (2, 1)  # the second handshake was abbreviated


def test_a_renewed_certificate_is_presented_in_a_full_handshake(server, database, tmp_path):
    with enrolled(server, database, tmp_path, "4103") as link:
        link.heartbeat()
        before = link.tls
        link.renew()
        assert link.tls is not before  # a new context: the old session (the old certificate's) is not offered
        link.heartbeat()
        assert (link.tls.handshakes, link.tls.resumed) == (1, 0)


def test_after_the_service_restarts_the_next_heartbeat_reconnects(dealer_state, database, tmp_path):
    first = DealerServer(dealer_state, periodic_tick=0.5).start()
    portal, link_port = first.portal_socket.getsockname()[1], first.link_socket.getsockname()[1]
    try:
        with enrolled(first, database, tmp_path, "4104") as link:
            link.heartbeat()
            first.close()
            with DealerServer(dealer_state, port=portal, link_port=link_port, periodic_tick=0.5):
                reply = link.heartbeat()  # the old connection was closed by the old service: a new one, at once
                assert reply["heartbeat_interval"] == dealer_state.heartbeat_interval
                assert link.tls.handshakes == 2
    finally:
        first.close()
