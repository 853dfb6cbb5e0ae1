"""The terminal's half of the journal upload without a service: batches are an unbroken run of the journal's change
sequence, each row in its latest state once, and a batch the service finds too large is split, never resent as it
was forever."""

from __future__ import annotations

import gzip
import json
from zoneinfo import ZoneInfo

import pytest

from kiosk.clock import ManualClock
from kiosk.dealer_link import upload
from kiosk.dealer_link.identity import LinkError
from kiosk.dealer_link.upload import JournalUpload, open_reader, read_batch
from kiosk.emulators.payments import pay
from kiosk.offline_queue.journal import Journal
from kiosk.offline_queue.schema import UPLOADED


@pytest.fixture
def journal(tmp_path):
    clock = ManualClock(ZoneInfo("Europe/Moscow"))
    j = Journal(tmp_path / "journal.sqlite", "10001", "RUB", clock.now)
    for index in range(12):
        pay(j, clock, delivered=index % 3 != 0)
    j.incident("clock_skew", "the clock is 90 s off")
    j.encash("full")
    yield j
    j.close()


def _rows(journal: Journal) -> set[tuple[str, int, int]]:
    return {(t, r[0], r[1]) for t in UPLOADED for r in journal.conn.execute(f"SELECT rowid, change_seq FROM {t}")}


@pytest.mark.parametrize("limit", [1, 7, 50, 10_000])
def test_batches_cover_every_latest_change_once_in_order(journal, limit):
    reader = open_reader(journal.path)
    seen: list[tuple[str, int, int]] = []
    after = 0
    while (batch := read_batch(reader, after, limit)).count:
        assert batch.count <= limit and batch.after == after
        keys = {"operations": "operation"}
        for table, rows in batch.rows.items():
            seen += [(table, row[keys.get(table, "id")], row["change_seq"]) for row in rows]
        assert all(after < s <= batch.last for _, _, s in seen[-batch.count:])
        after = batch.last
    reader.close()
    assert len(seen) == len(set(seen)) and set(seen) == _rows(journal)
    assert after == journal.conn.execute("SELECT value FROM change_seq").fetchone()[0]


def test_a_batch_refused_as_too_large_is_sent_in_smaller_ones(journal):
    received: list[dict] = []

    def service(body: bytes) -> dict:
        document = json.loads(gzip.decompress(body))
        if sum(len(rows) for rows in document["rows"].values()) > 9:
            raise LinkError("POST /journal refused (413): body larger than the service takes")
        received.append(document)
        return {"acknowledged": document["last"], "rows": 0}

    upload = JournalUpload(journal.path, "10001", service, batch_rows=64)
    sent = upload.catch_up()
    upload.close()
    assert upload.batch_rows == 8 and sent == len(_rows(journal))
    assert [d["after"] for d in received[1:]] == [d["last"] for d in received[:-1]]  # no gap, no overlap


def test_a_service_that_holds_less_gets_everything_after_what_it_holds(journal):
    holds = {"position": 0}
    calls = []

    def service(body: bytes) -> dict:
        document = json.loads(gzip.decompress(body))
        calls.append(document["after"])
        if document["after"] > holds["position"]:
            return {"acknowledged": holds["position"], "rows": 0, "resend_from": holds["position"]}
        holds["position"] = document["last"]
        return {"acknowledged": document["last"], "rows": 0}

    upload = JournalUpload(journal.path, "10001", service, batch_rows=20)
    upload.position.write(40)  # the terminal believes more was stored than the service (restored from backup) has
    upload.catch_up()
    upload.close()
    assert calls[:2] == [40, 0] and holds["position"] == journal.conn.execute(
        "SELECT value FROM change_seq").fetchone()[0]


@pytest.mark.parametrize("slice_rows", [1, 7, 10_000])
def test_a_batch_encoded_a_slice_at_a_time_is_the_same_document(journal, monkeypatch, slice_rows):
    monkeypatch.setattr(upload, "ENCODE_ROWS", slice_rows)
    batch = read_batch(open_reader(journal.path), 0, 10_000)
    assert batch.count > 7
    whole = {"format": 1, "terminal": "10001", "after": 0, "last": batch.last, "rows": batch.rows}
    assert gzip.decompress(batch.encode("10001")).decode() == json.dumps(whole, ensure_ascii=False,
                                                                         separators=(",", ":"))
