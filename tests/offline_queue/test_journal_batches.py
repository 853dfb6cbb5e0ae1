"""Many operations' journal writes in one statement per kind: the same rows as one write at a time."""

import threading
import time

import pytest

from kiosk.errors import JournalError
from kiosk.gateways.base import Route
from kiosk.offline_queue import journal_writes
from kiosk.offline_queue.operation import COMMITTED, DELIVERED, NEEDS_ATTENTION

from .test_outbox import Harness, harness  # noqa: F401 (harness: the fixture, used by name)

MAIN = Route("main", "1", {"timeout": 5})


def test_begin_attempts_pins_each_operation_and_skips_one_whose_row_moved_on(harness):  # noqa: F811
    h = harness
    a, b, c = (h.committed() for _ in range(3))
    seq = {n: h.journal.get(n).change_seq for n in (a, b, c)}
    h.journal.settle(b, next_attempt_ms=0)  # b is written after it was read
    ids = h.journal.begin_attempts([(a, MAIN, "pay", "S-a", seq[a]), (b, MAIN, "pay", None, seq[b]),
                                    (c, MAIN, "status", None, None)])
    assert ids[0] > 0 and ids[1] == 0 and ids[2] > ids[0]
    for number, verb, session in ((a, "pay", "S-a"), (c, "status", None)):
        op = h.journal.get(number)
        assert (op.pinned_gateway, op.attempts, op.route()) == ("main", 1, MAIN)
        (attempt,) = h.journal.attempts(number)
        assert (attempt["gateway"], attempt["verb"], attempt["session"], attempt["finished_at"]) == (
            "main", verb, session, None)
    assert h.journal.get(b).pinned_gateway is None and h.journal.attempts(b) == []


def test_begin_attempts_refuses_an_operation_named_twice(harness):  # noqa: F811
    h = harness
    a = h.committed()
    with pytest.raises(JournalError, match="named twice"):
        h.journal.begin_attempts([(a, MAIN, "pay", None, None), (a, MAIN, "pay", None, None)])
    assert h.journal.attempts(a) == []


SETTLES = [
    dict(state=DELIVERED, unpin=True, gateway="main", external_id="P-1", last_outcome="approved", last_code="",
         last_message="ок, принято"),
    dict(unpin=False, next_attempt_ms=1_800_000_000_000, last_outcome="unknown", last_code="", last_message="HTTP 502"),
    dict(state=NEEDS_ATTENTION, unpin=True, attention_reason="declined by main: счёт закрыт", last_outcome="declined",
         last_code="account_closed", last_message="Счёт закрыт"),
]


def _rows(h: Harness, numbers: list[int]) -> list[tuple]:
    ops = [h.journal.get(n) for n in numbers]
    attempts = [h.journal.attempts(n) for n in numbers]
    return [(op.state, op.pinned_gateway, op.next_attempt_ms, op.gateway, op.external_id, op.last_outcome,
             op.last_code, op.last_message, op.attention_reason, op.finished_at is not None,
             [(a["outcome"], a["code"], a["message"], a["external_id"], a["finished_at"] is not None) for a in att])
            for op, att in zip(ops, attempts, strict=True)]


def _settle_all(h: Harness, together: bool) -> list[int]:
    numbers = [h.committed() for _ in SETTLES]
    attempts = [h.journal.begin_attempt(n, MAIN, "pay") for n in numbers]
    finishes = [(attempt, kw.get("last_outcome", ""), kw.get("last_code", ""), kw.get("last_message", ""),
                 kw.get("external_id", "")) for attempt, kw in zip(attempts, SETTLES, strict=True)]
    if not together:
        for number, finish, kw in zip(numbers, finishes, SETTLES, strict=True):
            h.journal.settle(number, finish=finish, **kw)
        return numbers
    done = threading.Event()
    with h.journal._lock:  # queue them all before anything commits: they go in one transaction
        pending = [h.journal.settle(number, finish=finish, then=lambda error: done.set(), **kw)
                   for number, finish, kw in zip(numbers, finishes, SETTLES, strict=True)]
    h.journal.durable(pending[-1])
    assert done.is_set() and all(item.done and item.error is None for item in pending)
    return numbers


def test_settles_written_together_leave_the_rows_one_at_a_time_would(tmp_path, monkeypatch):
    merged: list[int] = []
    real = journal_writes.settle_many
    monkeypatch.setattr(journal_writes, "settle_many", lambda conn, rows: (merged.append(len(rows)),
                                                                            real(conn, rows))[1])
    one, many = Harness(tmp_path / "one"), Harness(tmp_path / "many")
    try:
        alone = _rows(one, _settle_all(one, together=False))
        assert merged == []
        together = _rows(many, _settle_all(many, together=True))
        assert merged == [len(SETTLES)]  # one statement per table for all three
        assert together == alone
        assert [row[0] for row in together] == [DELIVERED, COMMITTED, NEEDS_ATTENTION]
    finally:
        one.close()
        many.close()


def test_stopping_the_outbox_finishes_attempts_journaled_ahead_that_never_left_as_not_sent(harness):  # noqa: F811
    h = harness
    gate, at_gateway = threading.Event(), []
    real = h.main.pay
    h.main.pay = lambda request: (at_gateway.append(request), gate.wait(10), real(request))[2]
    numbers = [h.committed() for _ in range(8)]
    assert h.outbox.dispatch() == numbers  # two workers and six waiting, all with their attempt journaled
    deadline = time.monotonic() + 10
    while len(at_gateway) < 2:  # the gateway's two slots busy
        assert time.monotonic() < deadline
        time.sleep(0.005)
    stopper = threading.Thread(target=h.outbox.stop)
    stopper.start()
    while not h.outbox._lanes._closing:  # the six waiting are dropped before the two at the gateway finish
        assert time.monotonic() < deadline
        time.sleep(0.005)
    gate.set()
    stopper.join(30)
    sent = [n for n in numbers if h.bookings(n)]
    assert len(sent) == 2  # the two at the gateway finished; the six waiting never left
    for number in set(numbers) - set(sent):
        op = h.journal.get(number)
        (attempt,) = h.journal.attempts(number)
        assert op.state == COMMITTED and op.pinned_gateway is None
        assert (attempt["outcome"], attempt["finished_at"] is not None) == ("retry_not_executed", True)
        assert op.booked() == "not booked"
    for number in sent:
        assert h.journal.get(number).state == DELIVERED
