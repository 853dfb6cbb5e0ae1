"""The heartbeat's hot path: a plain ASGI route on the link listener, the enrolled key cached per process (never
its revocation), and revocation, nonce, online mark and heartbeat row written together — on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import httpx
import pytest
from monitor_support import enrolled
from sqlalchemy import func, select

from kiosk.dealer_link.identity import LinkError
from kiosk.dealer_link.signing import sign
from provisioning.db.models import Heartbeat, Terminal
from provisioning.heartbeat import MAX_BODY, heartbeat_target
from provisioning.identity import enrollment
from provisioning.identity.requests import KeyCache
from provisioning.server import DealerServer


@pytest.fixture(scope="module")
def server(dealer_state) -> Iterator[DealerServer]:
    with DealerServer(dealer_state, periodic_tick=0.5) as running:
        yield running



def _beats(database, number: str) -> int:
    with database.session() as session:
        terminal = session.scalar(select(Terminal).where(Terminal.number == number))
        return int(session.scalar(select(func.count()).select_from(Heartbeat)
                                  .where(Heartbeat.terminal_id == terminal.id)))


def test_revocation_refuses_at_once_although_the_key_is_cached(server, database, tmp_path):
    keys = server.app.state.services.keys
    with enrolled(server, database, tmp_path, "2001", group="north") as link:
        link.heartbeat({"outbox_depth": 1})
        assert link.key_id in keys._entries  # the link listener's route used (and filled) the process's cache
        with database.session() as session:
            terminal = session.scalar(select(Terminal).where(Terminal.number == "2001"))
            enrollment.revoke(session, terminal, "admin@acme", "lost", dt.datetime.now(dt.UTC))
        with pytest.raises(LinkError, match="revoked: lost"):
            link.heartbeat()
    assert _beats(database, "2001") == 1  # the refused heartbeat wrote nothing


def test_a_replay_writes_nothing_and_a_fresh_request_still_works(server, database, tmp_path):
    with enrolled(server, database, tmp_path, "2002", group="north") as link, \
            httpx.Client(base_url=link.settings.link_url, verify=link.identity.tls_context(), timeout=10) as client:
        path = f"{link.terminal_path}/heartbeat"
        headers = sign("POST", f"{link.settings.link_url}{path}", b"{}", link.key, link.key_id)
        assert client.post(path, content=b"{}", headers=headers).status_code == 200
        replay = client.post(path, content=b"{}", headers=headers)
        assert replay.status_code == 401 and "replayed" in replay.json()["detail"]
        assert _beats(database, "2002") == 1
        link.heartbeat()
        assert _beats(database, "2002") == 2


def test_an_oversized_or_non_json_heartbeat_is_refused_with_the_reason(server, database, tmp_path):
    with enrolled(server, database, tmp_path, "2003", group="north") as link, \
            httpx.Client(base_url=link.settings.link_url, verify=link.identity.tls_context(), timeout=10) as client:
        path = f"{link.terminal_path}/heartbeat"
        big = b"x" * (MAX_BODY + 1)
        reply = client.post(path, content=big, headers=sign("POST", f"{link.settings.link_url}{path}", big,
                                                            link.key, link.key_id))
        assert reply.status_code == 413 and "larger than" in reply.json()["detail"]
        bad = b"[1, 2]"
        reply = client.post(path, content=bad, headers=sign("POST", f"{link.settings.link_url}{path}", bad,
                                                            link.key, link.key_id))
        assert reply.status_code == 400 and "expected a JSON object" in reply.json()["detail"]
    assert _beats(database, "2003") == 0


def test_only_the_heartbeat_path_takes_the_plain_route():
    def scope(method: str, path: str) -> dict[str, str]:
        return {"method": method, "path": path}

    assert heartbeat_target(scope("POST", "/api/v1/terminals/acme/10/heartbeat")) == ("acme", "10")
    assert heartbeat_target(scope("GET", "/api/v1/terminals/acme/10/heartbeat")) is None
    assert heartbeat_target(scope("POST", "/api/v1/terminals/acme/10/certificate")) is None
    assert heartbeat_target(scope("POST", "/api/v1/terminals/acme/x/10/heartbeat")) is None
    assert heartbeat_target(scope("POST", "/api/v1/terminals//10/heartbeat")) is None


def test_the_key_cache_rereads_after_its_ttl_and_never_caches_an_unknown_key(server, database, tmp_path):
    from contextlib import contextmanager

    reads: list[str] = []

    @contextmanager
    def session():
        with database.session() as inner:
            reads.append("read")
            yield inner

    cache = KeyCache(ttl=60)
    assert cache.get(session, "0" * 64) is None and cache.get(session, "0" * 64) is None
    assert len(reads) == 2  # a terminal enrolled a moment ago must not be refused from the cache
    with enrolled(server, database, tmp_path, "2004", group="north") as link:
        found = cache.get(session, link.key_id)
        assert found is not None and (found.dealer, found.number) == ("acme", "2004")
        assert cache.get(session, link.key_id) is found and len(reads) == 3
        expired = KeyCache(ttl=0)
        expired.get(session, link.key_id)
        expired.get(session, link.key_id)
        assert len(reads) == 5


def _highest(database, number: str) -> int:
    with database.session() as session:
        return int(session.scalar(select(Terminal.highest_operation).where(Terminal.number == number)))


def test_the_service_keeps_the_highest_operation_ever_reported_and_returns_it(server, database, tmp_path):
    with enrolled(server, database, tmp_path, "2005", group="north") as link:
        assert link.heartbeat()["highest_operation"] == 0  # a terminal that reports no number yet
        assert link.heartbeat({"last_operation": 50})["highest_operation"] == 50
        # a restored terminal reports less: the service never forgets the higher number, and says it
        assert link.heartbeat({"last_operation": 10})["highest_operation"] == 50
        assert _highest(database, "2005") == 50
        assert link.heartbeat({"last_operation": 51})["highest_operation"] == 51
        for bad in ("50", -1, True, 1.5):
            with pytest.raises(LinkError, match="last_operation must be a whole number"):
                link.heartbeat({"last_operation": bad})
    assert _highest(database, "2005") == 51 and _beats(database, "2005") == 4  # refused heartbeats wrote nothing


def test_a_key_not_cached_yet_is_read_and_checked_once_without_the_reference_verifier(server, database, tmp_path,
                                                                                      monkeypatch):
    from provisioning.identity import requests as identity_requests

    keys = server.app.state.services.keys
    verified_by_reference: list[object] = []
    reference = identity_requests.HTTPMessageVerifier.verify

    def counted(self, *args, **kwargs):
        verified_by_reference.append(args)
        return reference(self, *args, **kwargs)

    with enrolled(server, database, tmp_path, "2006", group="north") as link:
        keys.forget(link.key_id)  # as after a restart, or the first heartbeat this process sees from the terminal
        monkeypatch.setattr(identity_requests.HTTPMessageVerifier, "verify", counted)
        link.heartbeat()
        assert verified_by_reference == [] and keys.peek(link.key_id) is not None
        with database.session() as session:  # and a key that is no longer on record is still refused, with why
            terminal = session.scalar(select(Terminal).where(Terminal.number == "2006"))
            enrollment.revoke(session, terminal, "admin@acme", "stolen", dt.datetime.now(dt.UTC))
        keys.forget(link.key_id)
        with pytest.raises(LinkError, match="revoked: stolen"):
            link.heartbeat()
    assert _beats(database, "2006") == 1
