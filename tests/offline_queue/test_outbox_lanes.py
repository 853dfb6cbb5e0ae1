"""The outbox's lanes: per-gateway queues and workers, bounded, in order, a payer's operation first, no number twice."""

from __future__ import annotations

import threading
import time

import pytest

from kiosk.offline_queue import lanes as lanes_module
from kiosk.offline_queue.lanes import Lanes

from .test_outbox import Harness


class Recorder:
    """A `run` that records the order of deliveries and can hold them until released."""

    def __init__(self, hold: bool = False) -> None:
        self.order: list[int] = []
        self.running: list[int] = []
        self.gate = threading.Event()
        if not hold:
            self.gate.set()
        self.lock = threading.Lock()
        self.low = 0

    def run(self, number: int, release) -> None:
        with self.lock:
            self.running.append(number)
        assert self.gate.wait(10)
        with self.lock:
            self.order.append(number)
        release()

    def on_low(self) -> None:
        with self.lock:
            self.low += 1

    def wait_running(self, count: int) -> None:
        deadline = time.monotonic() + 10
        while len(self.running) < count:
            assert time.monotonic() < deadline, self.running
            time.sleep(0.005)


@pytest.fixture
def made():
    made: list[Lanes] = []

    def make(sizes, recorder):
        lanes = Lanes(sizes, recorder.run, recorder.on_low)
        made.append(lanes)
        return lanes

    yield make
    for lanes in made:
        lanes.close()


def test_one_worker_delivers_in_the_order_offered_and_a_payers_operation_first(made):
    r = Recorder(hold=True)
    lanes = made({"main": 1}, r)
    assert lanes.offer(1, "main")
    r.wait_running(1)  # 1 is at the gateway; the rest wait in the lane
    assert lanes.offer(2, "main")
    assert lanes.offer(3, "main", urgent=True)  # a payer waits for 3: it goes before 2
    r.gate.set()
    assert lanes.wait([1, 2, 3], timeout=10)
    assert r.order == [1, 3, 2]


def test_a_number_is_never_queued_twice_while_on_its_way(made):
    r = Recorder(hold=True)
    lanes = made({"main": 2, "other": 2}, r)
    assert lanes.offer(7, "main")
    assert not lanes.offer(7, "main") and not lanes.offer(7, "other") and not lanes.offer(7, "main", urgent=True)
    r.gate.set()
    assert lanes.wait([7], timeout=10)
    assert r.order == [7]
    assert lanes.offer(7, "main")  # delivered: it may come again (a retry later)
    assert lanes.wait([7], timeout=10) and r.order == [7, 7]


def test_a_full_lane_refuses_more_and_another_gateways_lane_still_takes_work(made):
    r = Recorder(hold=True)
    lanes = made({"hung": 2, "fine": 1}, r)
    assert [lanes.offer(n, "hung") for n in range(1, 6)] == [True] * 4 + [False]  # its workers' worth twice over
    r.wait_running(2)
    assert lanes.room() == 2  # only the other lane has room
    assert lanes.offer(100, "fine")
    r.wait_running(3)  # the other gateway's operation is being delivered while the hung lane is full
    assert 100 in r.running
    assert lanes.offer(5, "hung", urgent=True)  # a payer's operation is taken even past a full lane
    r.gate.set()
    assert lanes.wait(timeout=10)
    assert sorted(r.order) == [1, 2, 3, 4, 5, 100]


def test_workers_in_flight_never_exceed_the_lane_size(made):
    peak, now, lock = [0], [0], threading.Lock()

    def run(number: int, release) -> None:
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        time.sleep(0.002)
        with lock:
            now[0] -= 1
        release()

    lanes = Lanes({"main": 3}, run, lambda: None)
    try:
        offered = 0
        while offered < 60:
            if lanes.offer(offered, "main"):
                offered += 1
            else:
                time.sleep(0.001)
        assert lanes.wait(timeout=10)
    finally:
        lanes.close()
    assert peak[0] == 3


def test_the_loop_is_asked_for_more_when_a_lane_runs_low_not_for_every_payment(made):
    r = Recorder()
    lanes = made({"main": 4}, r)
    r.gate.clear()
    for n in range(8):
        assert lanes.offer(n, "main")
    r.wait_running(4)
    asked_while_full = r.low
    r.gate.set()
    assert lanes.wait(timeout=10)
    # four waiting, then delivered: the loop is asked at half a lane left and when empty, not four times
    assert r.low - asked_while_full == 2


def test_close_drops_what_waits_and_lets_the_one_in_flight_finish(made):
    r = Recorder(hold=True)
    lanes = made({"main": 1}, r)
    assert lanes.offer(1, "main")
    r.wait_running(1)
    assert lanes.offer(2, "main") and lanes.offer(3, "main", urgent=True)
    closing = threading.Thread(target=lanes.close)
    closing.start()
    time.sleep(0.05)
    assert closing.is_alive()  # waits for the delivery at the gateway
    r.gate.set()
    closing.join(10)
    assert r.order == [1]  # 2 and 3 were dropped from memory only: they stay due in the journal
    assert not lanes.is_busy(2) and not lanes.is_busy(3)
    assert lanes.offer(2, "main") and lanes.wait([2], timeout=10) and r.order == [1, 2]  # usable again


def test_wait_times_out_on_a_delivery_that_does_not_end(made):
    r = Recorder(hold=True)
    lanes = made({"main": 1}, r)
    lanes.offer(1, "main")
    assert lanes.wait([1], timeout=0.05) is False
    r.gate.set()
    assert lanes.wait([1], timeout=10) is True


def test_idle_workers_end_and_new_ones_start_when_work_comes(made, monkeypatch):
    monkeypatch.setattr(lanes_module, "IDLE_SECONDS", 0.05)
    r = Recorder()
    lanes = made({"main": 2}, r)
    lanes.offer(1, "main")
    assert lanes.wait([1], timeout=10)
    deadline = time.monotonic() + 5
    while any(t.name == "outbox-main" for t in threading.enumerate()):
        assert time.monotonic() < deadline, "an idle worker never ended"
        time.sleep(0.01)
    lanes.offer(2, "main")
    assert lanes.wait([2], timeout=10) and r.order == [1, 2]


# -- through the outbox ---------------------------------------------------------------------------------------
def test_a_payers_operation_is_delivered_before_the_queue_of_due_ones(tmp_path, monkeypatch):
    h = Harness(tmp_path)
    try:
        r = Recorder(hold=True)
        real = h.outbox.deliver
        monkeypatch.setattr(h.outbox, "deliver",
                            lambda number, *copies: (r.run(number, lambda: None), real(number, *copies))[1])
        numbers = [h.committed() for _ in range(14)]
        queued = h.outbox.dispatch()
        # main's lane, its attempts journaled by the loop: 2 workers (its 2 slots) and five times as many waiting
        assert queued == numbers[:12]
        r.wait_running(2)
        assert h.outbox.submit(numbers[13])  # the payer at the screen waits for this one
        assert not h.outbox.submit(numbers[0])  # on its way already
        r.gate.set()
        h.outbox.wait_idle(10)
        assert r.order.index(numbers[13]) < min(r.order.index(n) for n in numbers[2:12])
        assert all(h.journal.get(n).state == "delivered" for n in numbers[:12] + [numbers[13]])
        assert sum(len(h.bookings(n)) for n in numbers) == 13
    finally:
        h.close()


def test_the_loop_survives_a_failed_read_of_the_schedule(tmp_path, monkeypatch):
    h = Harness(tmp_path)
    try:
        real, failures = h.journal.due_operations, [1]

        def flaky(*args, **kwargs):
            if failures:
                failures.pop()
                raise RuntimeError("database is locked")
            return real(*args, **kwargs)

        monkeypatch.setattr(h.journal, "due_operations", flaky)
        number = h.committed()
        h.outbox.start()
        deadline = time.monotonic() + 10
        while h.journal.get(number).state != "delivered":
            assert time.monotonic() < deadline, "the loop died with its first failed read"
            time.sleep(0.02)
        assert not failures
    finally:
        h.close()


def test_a_delivery_whose_last_write_waits_for_the_disk_holds_its_number_but_not_its_worker(made):
    gate, offered, events, lock = threading.Event(), threading.Event(), [], threading.Lock()

    def run(number, release):
        assert offered.wait(10)  # 2 is queued before 1's delivery returns (else the worker commits 1 first)
        with lock:
            events.append(f"run {number}")

        def make_durable():
            assert gate.wait(10)
            with lock:
                events.append(f"durable {number}")
            release()
        return make_durable

    lanes = Lanes({"main": 1}, run, lambda: None)
    try:
        assert lanes.offer(1, "main") and lanes.offer(2, "main")
        offered.set()
        deadline = time.monotonic() + 10
        while "run 2" not in events:  # 1's write rides with 2's delivery: the worker goes on without waiting
            assert time.monotonic() < deadline, events
            time.sleep(0.005)
        assert lanes.is_busy(1) and not lanes.offer(1, "main")  # not complete until durable: never offered twice
        # but its worker is free once run 2 has returned: the lane takes a whole refill, no wait for the loop
        while lanes.room() != 2:
            assert time.monotonic() < deadline, (lanes.room(), events)
            time.sleep(0.005)
        assert lanes.is_busy(1) and lanes.is_busy(2)
        gate.set()
        assert lanes.wait([1, 2], timeout=10)
        assert events == ["run 1", "run 2", "durable 1", "durable 2"]  # the last is made durable when none is next
    finally:
        lanes.close()
