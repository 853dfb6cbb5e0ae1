"""The loop's copies of due operations: a worker sends from one only while the journal's row is still that copy."""

from kiosk.gateways.base import Route
from kiosk.offline_queue.operation import COMMITTED, DELIVERED, NEEDS_ATTENTION

from .test_outbox import Harness


def _copy(h: Harness, number: int):
    """The operation as the outbox's loop reads it when it is due."""
    now_ms = int(h.journal.now().timestamp() * 1000)
    (op,) = [op for op in h.journal.due_operations(now_ms) if op.operation == number]
    return op


def test_the_first_write_refuses_a_copy_the_row_has_moved_on_from(tmp_path):
    h = Harness(tmp_path)
    try:
        number = h.committed()
        copy = _copy(h, number)
        h.journal.settle(number, next_attempt_ms=copy.next_attempt_ms)  # any write at all moves the row on
        assert h.journal.begin_attempt(number, Route("main"), "pay", expect=copy.change_seq) == 0
        fresh = h.journal.get(number)
        assert fresh.attempts == 0 and fresh.pinned_gateway is None and h.journal.attempts(number) == []
        assert h.journal.begin_attempt(number, Route("main"), "pay", expect=fresh.change_seq) > 0
        assert h.journal.get(number).pinned_gateway == "main"
    finally:
        h.close()


def test_a_copy_of_an_operation_delivered_since_sends_nothing(tmp_path):
    h = Harness(tmp_path)
    try:
        number = h.committed()
        copy = _copy(h, number)
        assert h.outbox.deliver(number) == DELIVERED  # e.g. the payer's own delivery, ahead of the loop's
        assert h.outbox.deliver(number, copy) == DELIVERED
        assert len(h.bookings(number)) == 1 and len(h.journal.attempts(number)) == 1
    finally:
        h.close()


def test_a_copy_taken_before_a_correction_is_not_what_is_sent(tmp_path):
    h = Harness(tmp_path)
    try:
        number = h.committed(account="9123456789")
        copy = _copy(h, number)
        # support: the account was mistyped; the operation goes back into the outbox with the right one
        h.journal.settle(number, state=NEEDS_ATTENTION, attention_reason="wrong account")
        h.journal.reopen_corrected(number, {"by": "support"}, "account corrected", account="9000000001")
        assert h.journal.get(number).state == COMMITTED
        assert h.outbox.deliver(number, copy) == DELIVERED
        assert [b["account"] for b in h.bookings(number)] == ["9000000001"]
    finally:
        h.close()


def test_the_loop_delivers_from_its_copies(tmp_path, monkeypatch):
    h = Harness(tmp_path)
    reads = []
    real = h.journal.committed
    monkeypatch.setattr(h.journal, "committed", lambda number: (reads.append(number), real(number))[1])
    try:
        numbers = [h.committed() for _ in range(5)]
        assert sorted(h.outbox.dispatch()) == numbers
        h.outbox.wait_idle(10)
        assert all(h.journal.get(n).state == DELIVERED for n in numbers)
        assert reads == []  # no read per payment: the loop's one read carried every row
    finally:
        h.close()
