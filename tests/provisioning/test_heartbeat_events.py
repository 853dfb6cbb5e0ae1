"""State changes carried by heartbeats (issue 14): stored once each however often they are resent, acknowledged by
count, checked before anything is written; the latest report kept on the terminal row; and on PostgreSQL the
batch writer (one transaction for many heartbeats, a failing one retried alone) — over real mTLS."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import psycopg
import pytest
from monitor_support import enrolled
from sqlalchemy import select

from kiosk.dealer_link.identity import LinkError
from kiosk.dealer_link.signing import sign
from provisioning.db.models import Terminal
from provisioning.heartbeat_writer import BatchWriter
from provisioning.link_events import TerminalEvent
from provisioning.server import DealerServer


@pytest.fixture(scope="module")
def server(dealer_state) -> Iterator[DealerServer]:
    with DealerServer(dealer_state, periodic_tick=0.5) as running:
        yield running



def _event(event_id: str, kind: str, minutes_ago: int, detail: str = "") -> dict[str, str]:
    at = dt.datetime.now(dt.timezone(dt.timedelta(hours=3))) - dt.timedelta(minutes=minutes_ago)
    return {"id": event_id, "at": at.isoformat(), "kind": kind, "detail": detail}


def _stored(database, number: str) -> list[tuple[str, str, dt.datetime]]:
    with database.session() as session:
        terminal_id = session.scalar(select(Terminal.id).where(Terminal.number == number))
        return [(e.event_id, e.kind, e.at) for e in session.scalars(
            select(TerminalEvent).where(TerminalEvent.terminal_id == terminal_id).order_by(TerminalEvent.at))]


def test_events_are_stored_once_however_often_resent_and_the_latest_report_is_kept(server, database, tmp_path):
    offline = [_event("ev-0001-aaaa", "validator_fault", 30, "jammed"), _event("ev-0002-bbbb", "validator_ok", 20)]
    with enrolled(server, database, tmp_path, "3001", group="north") as link:
        reply = link.heartbeat({"outbox_depth": 3, "events": offline})
        assert reply["events_acknowledged"] == 2
        # the reply was lost on the way: the terminal sends the same events again, with a new one
        again = link.heartbeat({"outbox_depth": 2, "events": [*offline, _event("ev-0003-cccc", "paper_out", 1)]})
        assert again["events_acknowledged"] == 3
        assert link.heartbeat({"outbox_depth": 1})["events_acknowledged"] == 0
    stored = _stored(database, "3001")
    assert [(i, k) for i, k, _ in stored] == [("ev-0001-aaaa", "validator_fault"), ("ev-0002-bbbb", "validator_ok"),
                                              ("ev-0003-cccc", "paper_out")]
    assert stored[0][2] == dt.datetime.fromisoformat(offline[0]["at"])  # the terminal's time, zone kept as UTC
    with database.session() as session:
        row = session.scalar(select(Terminal).where(Terminal.number == "3001"))
        latest = json.loads(row.last_heartbeat)
    assert latest["outbox_depth"] == 1 and "events" not in latest  # events live in their own table


@pytest.mark.parametrize(("number", "events", "reason"), [
    ("3101", "not a list", "events must be a list"),
    ("3102", [{"id": "short", "at": "2026-11-29T10:00:00+00:00", "kind": "x"}], "events[0].id"),
    ("3103", [{"id": "ev-0001-aaaa", "at": "2026-11-29T10:00:00", "kind": "paper_out"}], "time zone"),
    ("3104", [{"id": "ev-0001-aaaa", "at": "yesterday", "kind": "paper_out"}], "ISO 8601"),
    ("3105", [{"id": "ev-0001-aaaa", "at": "2026-11-29T10:00:00+00:00", "kind": "Paper Out"}], "kind"),
])
def test_malformed_events_refuse_the_whole_heartbeat_with_the_reason(server, database, tmp_path, number, events,
                                                                     reason):
    with enrolled(server, database, tmp_path, number, group="north") as link:
        with pytest.raises(LinkError, match=r"\(400\).*" + reason.replace("[", r"\[").replace("]", r"\]")):
            link.heartbeat({"events": events})
    assert _stored(database, number) == []


def test_concurrent_heartbeats_of_many_terminals_are_all_written_and_replays_still_refused(server, database, tmp_path):
    links = [enrolled(server, database, tmp_path, f"32{n:02d}", group="north") for n in range(6)]
    try:
        for link in links:
            link.heartbeat()  # online, key cached
        with httpx.Client(base_url=links[0].settings.link_url, verify=links[0].identity.tls_context(),
                          timeout=10) as client:
            signed = []
            for n, link in enumerate(links * 3):
                body = json.dumps({"events": [_event(f"ev-32-{n:04d}", "cassette_removed", 1)]}).encode()
                path = f"{link.terminal_path}/heartbeat"
                signed.append((path, body, sign("POST", f"{link.settings.link_url}{path}", body, link.key,
                                                link.key_id)))

            async def send_all() -> list[int]:
                async with httpx.AsyncClient(base_url=links[0].settings.link_url, timeout=10,
                                             verify=links[0].identity.tls_context()) as concurrent:
                    replies = await asyncio.gather(*(concurrent.post(p, content=b, headers=h) for p, b, h in signed))
                return [r.status_code for r in replies]

            assert asyncio.run(send_all()) == [200] * len(signed)
            path, body, headers = signed[0]
            assert client.post(path, content=body, headers=headers).status_code == 401  # replayed
    finally:
        for link in links:
            link.close()
    assert sum(len(_stored(database, f"32{n:02d}")) for n in range(6)) == 18


def test_a_cached_key_serves_past_its_ttl_until_its_rows_change(server, database, tmp_path, db_url, monkeypatch):
    keys = server.app.state.services.keys
    monkeypatch.setattr(keys, "ttl", 0)  # every cached key is past its TTL at once
    reads: list[str] = []
    original = keys.get
    monkeypatch.setattr(keys, "get", lambda *args: reads.append("read") or original(*args))
    with enrolled(server, database, tmp_path, "3301", group="north") as link:
        for _ in range(3):
            link.heartbeat()
        # PostgreSQL: checked against the rows by the heartbeat's own statement, so read once, not every time
        assert len(reads) == (1 if db_url.startswith("postgresql") else 3)
        with database.session() as session:
            session.scalar(select(Terminal).where(Terminal.number == "3301")).number = "3302"  # renumbered by hand
        accepted = 0
        for _ in range(2):  # at most the request that finds the change is served from the old facts
            try:
                link.heartbeat()
                accepted += 1
            except LinkError as exc:
                assert "wrong terminal" in str(exc)
        assert accepted <= 1


@contextmanager
def _xid_probe(db_url: str, table: str) -> Iterator[dict[int, int]]:
    """A table of rows (k, the transaction that wrote it) for a batch writer test; filled with its rows at the end."""
    if not db_url.startswith("postgresql"):
        pytest.skip("SQLite has no batch writer: each heartbeat is written in its own request there")
    from provisioning.heartbeat_writer import psycopg_url

    with psycopg.connect(psycopg_url(db_url), autocommit=True) as conn:
        conn.execute(f"CREATE TABLE IF NOT EXISTS {table} (k integer PRIMARY KEY, xid bigint)")
    xids: dict[int, int] = {}
    try:
        yield xids
    finally:
        with psycopg.connect(psycopg_url(db_url), autocommit=True) as conn:
            xids.update(conn.execute(f"SELECT k, xid FROM {table}").fetchall())
            conn.execute(f"DROP TABLE {table}")


def test_the_batch_writer_writes_a_batch_in_one_transaction_and_a_failing_row_fails_alone(db_url):
    # pause: the writer's thread sits in this statement while the test queues the next rows behind it
    statement = "INSERT INTO batch_probe SELECT %(k)s, txid_current() FROM pg_sleep(%(pause)s) RETURNING k"

    async def behind_a_slow_row(writer: BatchWriter, first: int, keys: list[int]) -> list[object]:
        slow = asyncio.ensure_future(writer.write({"k": first, "pause": 0.4}))
        await asyncio.sleep(0.2)
        rows = await asyncio.gather(*(writer.write({"k": k, "pause": 0}) for k in keys), return_exceptions=True)
        await slow
        return rows

    async def run() -> tuple[list[object], list[object]]:
        writer = BatchWriter(db_url, statement, connections=1, order_key="k")
        try:
            # everything queued while the writer is busy goes as one batch, one transaction
            together = await behind_a_slow_row(writer, 100, list(range(1, 21)))
            # 25 twice in one batch: the batch fails, its rows are written one by one, and only the repeat fails
            alone = await behind_a_slow_row(writer, 101, [*range(21, 31), 25])
            return together, alone
        finally:
            await writer.close()

    with _xid_probe(db_url, "batch_probe") as xids:
        together, alone = asyncio.run(run())
    assert [r[0] for r in together] == list(range(1, 21))  # type: ignore[index]
    assert [r[0] for r in alone[:-1]] == list(range(21, 31))  # type: ignore[index]
    assert isinstance(alone[-1], psycopg.errors.UniqueViolation)
    assert sorted(xids) == [*range(1, 31), 100, 101]
    assert len({xids[k] for k in range(1, 21)}) == 1  # one commit for the first twenty
    assert len({xids[k] for k in range(21, 31)}) == 10  # each retried row in its own transaction


def test_a_thin_batch_waits_a_moment_to_fill_instead_of_committing_each_heartbeat(db_url):
    statement = "INSERT INTO trickle_probe VALUES (%(k)s, txid_current()) RETURNING k"

    async def run() -> list[object]:
        # heartbeats arriving 3 ms apart, as a quiet server receives them: a batch that lingers 0.5 s for them
        writer = BatchWriter(db_url, statement, connections=1, order_key="k", linger=0.5, fill=6)
        try:
            pending = []
            for k in range(1, 7):
                pending.append(asyncio.ensure_future(writer.write({"k": k})))
                await asyncio.sleep(0.003)
            return list(await asyncio.gather(*pending))
        finally:
            await writer.close()

    with _xid_probe(db_url, "trickle_probe") as xids:
        rows = asyncio.run(run())
    assert [r[0] for r in rows] == list(range(1, 7))  # type: ignore[index]
    assert len(set(xids.values())) == 1  # six heartbeats, one commit
