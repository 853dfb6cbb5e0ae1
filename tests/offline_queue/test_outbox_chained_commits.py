"""Journal writes share commits: a refill's first attempts are one write of the loop's, a lane's outcomes ride
together, and where a worker journals its own attempt (a gateway whose profile needs a person for an unknown
outcome) its previous payment's outcome rides in that attempt's transaction.

Fewer disk waits and statements per payment, and still: the attempt is durable before its request leaves, and the
outcome is durable before anything acts on it (the number freed, on_settled called).
"""

from __future__ import annotations

import inspect
import sqlite3
import threading

from kiosk.gateways.profiles import PROFILES
from kiosk.offline_queue.lanes import Lane, Lanes

from .test_outbox import Harness


class Transactions:
    """Records, for every group commit, which writes (kind, operation) it carried."""

    def __init__(self, journal) -> None:
        self.batches: list[list[tuple[str, int]]] = []
        real = journal._run_batch

        def run_batch(batch):
            real(batch)
            self.batches.append([describe(item) for item in batch])

        journal._run_batch = run_batch


def describe(item) -> tuple[str, object]:
    """(kind of write, its operation or operations)."""
    kind = item.work.__qualname__.split(".")[1]
    names = inspect.getclosurevars(item.work).nonlocals
    if kind == "begin_attempts":
        return kind, tuple(row.operation for row in names["rows"])
    return kind, names["operation"]


def one_worker(h: Harness, monkeypatch) -> None:
    """The outbox with a single worker per lane (its commits are then the chain's and nobody else's), and room
    for ten waiting numbers."""
    monkeypatch.setattr(Lane, "room", lambda lane: 10 - lane.running - lane.reserved - len(lane.queue))
    h.outbox._lanes = Lanes({name: 1 for name in (*h.outbox.limits, None)}, h.outbox._run, h.outbox.kick)


def dispatch_all(h: Harness) -> list[int]:
    """Queue every due number before the worker writes anything (it waits for the journal meanwhile)."""
    with h.journal._lock:
        return h.outbox.dispatch()


def drain_five(h: Harness, monkeypatch) -> tuple[list[int], Transactions]:
    """Five payments through one worker, every commit recorded; all are delivered."""
    one_worker(h, monkeypatch)
    numbers = [h.committed() for _ in range(5)]
    log = Transactions(h.journal)
    assert dispatch_all(h) == numbers
    h.outbox.wait_idle(10)
    assert [h.journal.get(n).state for n in numbers] == ["delivered"] * 5
    return numbers, log


def test_a_refills_attempts_are_one_commit_and_the_lanes_outcomes_another(tmp_path, monkeypatch):
    h = Harness(tmp_path)  # the virtual gateways' profile resolves an unknown outcome by a status query
    try:
        numbers, log = drain_five(h, monkeypatch)
        assert log.batches == [[("begin_attempts", tuple(numbers))], [("settle", n) for n in numbers]]
        assert all(len(h.bookings(n)) == 1 for n in numbers)
        assert all(a["finished_at"] and a["outcome"] == "approved" for n in numbers for a in h.journal.attempts(n))
    finally:
        h.close()


def test_each_outcome_is_committed_with_the_next_attempt_one_disk_wait_per_payment(tmp_path, monkeypatch):
    h = Harness(tmp_path)
    try:
        for gateway in (h.main, h.backup):  # books every repeat again: nothing is journaled ahead of its worker
            monkeypatch.setattr(gateway, "profile", PROFILES["rebooking"])
        numbers, log = drain_five(h, monkeypatch)
        a, b, c, d, e = numbers
        # before: ten transactions (attempt, outcome, attempt, outcome …); now each outcome rides with the next
        # attempt, and the lane's last outcome is committed alone when the worker finds nothing more to do
        assert log.batches == [
            [("begin_attempt", a)],
            [("settle", a), ("begin_attempt", b)],
            [("settle", b), ("begin_attempt", c)],
            [("settle", c), ("begin_attempt", d)],
            [("settle", d), ("begin_attempt", e)],
            [("settle", e)],
        ]
        assert all(len(h.bookings(n)) == 1 for n in numbers)
    finally:
        h.close()


def test_nothing_acts_on_an_outcome_before_it_is_durable(tmp_path, monkeypatch):
    h = Harness(tmp_path)
    seen: list[tuple[int, str, str]] = []
    lock = threading.Lock()

    def settled(number: int, state: str) -> None:
        # another connection sees only what is committed: the outcome must be there already
        conn = sqlite3.connect(tmp_path / "journal.sqlite")
        try:
            on_disk = conn.execute("SELECT state FROM operations WHERE operation=?", (number,)).fetchone()[0]
        finally:
            conn.close()
        with lock:
            seen.append((number, state, on_disk))

    try:
        h.outbox.on_settled = settled
        one_worker(h, monkeypatch)
        numbers = [h.committed() for _ in range(6)]
        h.main.set_mode("decline")  # a final decline: needs attention, the other outcome a delivery leaves
        dispatch_all(h)
        h.outbox.wait_idle(10)
        h.main.set_mode("ok")
        numbers.append(h.committed())
        dispatch_all(h)
        h.outbox.wait_idle(10)
        assert sorted(n for n, _, _ in seen) == numbers
        assert all(state == on_disk for _, state, on_disk in seen), seen
        assert {state for _, state, _ in seen} == {"needs_attention", "delivered"}
    finally:
        h.close()


def test_an_outcome_that_cannot_be_journaled_leaves_the_payment_in_the_outbox(tmp_path, monkeypatch):
    h = Harness(tmp_path)
    seen: list[tuple[int, str]] = []
    try:
        h.outbox.on_settled = lambda number, state: seen.append((number, state))
        one_worker(h, monkeypatch)
        number = h.committed()
        real = h.journal.settle

        def broken(operation, **kwargs):
            if kwargs.get("then") is not None:
                def fail(conn):
                    raise sqlite3.OperationalError("disk I/O error")
                return h.journal._grouped(fail, kwargs["then"])
            return real(operation, **kwargs)

        h.journal.settle = broken
        h.outbox.dispatch()
        assert h.outbox._lanes.wait([number], timeout=10)
        assert seen == [(number, "committed")]  # reported as still in the outbox, never as delivered
        op = h.journal.get(number)
        assert op.state == "committed" and op.pinned_gateway == "main"  # its next cycle asks the gateway first
        assert not h.outbox._lanes.is_busy(number)
    finally:
        h.close()
