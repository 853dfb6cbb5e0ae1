"""The outbox's workers: one lane per gateway, each a queue of operation numbers and the threads that take them.

A worker takes the next number from its own lane as soon as it has finished one: no thread hands work to another
per payment, no future is made per payment, and the outbox's loop is woken only when a lane runs low (about once
per half a lane's queue of payments), to read the next due operations from the journal in one query. A lane's
depth is bounded (by default its workers' worth in flight and as many waiting), so a gateway that hangs holds its
own lane and no other; a number is in at most one lane at a time. The loop may reserve a place first and queue the
number once its first attempt is journaled (reserve, enqueue).
"""

from __future__ import annotations

import functools
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping

# A worker with nothing to do for this long ends (a new one starts when work comes): threads of an outbox that is
# driven by run_due() alone never outlive their use by long.
IDLE_SECONDS = 5.0
# A worker commits its deliveries' last writes itself when its lane runs dry, or after this many if no other
# commit (the loop's refill, another worker's attempt) has carried them: the deliveries are complete, and their
# numbers free, only once those writes are durable. Measured: 8 made twice the commits of 64 for the same drain.
HELD_LIMIT = 64

class Slots:
    """A gateway's request slots, as a context manager: at most n held at once.

    A queue of tokens implemented in C: taking and returning a slot runs no Python-level condition (the
    semaphore's notify on every return was ~7 % of a zero-latency drain's Python time, py-spy --gil).
    """

    __slots__ = ("_tokens",)

    def __init__(self, n: int) -> None:
        self._tokens: queue.SimpleQueue[None] = queue.SimpleQueue()
        for _ in range(n):
            self._tokens.put(None)

    def __enter__(self) -> Slots:
        self._tokens.get()
        return self

    def __exit__(self, *exc: object) -> None:
        self._tokens.put(None)


class Lane:
    """One gateway's queue and workers (their count is the lane's size)."""

    __slots__ = ("name", "size", "depth", "queue", "threads", "idle", "running", "reserved", "ready")

    def __init__(self, name: str | None, size: int, lock: threading.Lock, depth: int | None = None) -> None:
        self.name, self.size = name, max(1, size)
        self.depth = max(self.size + 1, depth or 2 * self.size)  # numbers in flight and waiting, at most
        self.queue: deque[int] = deque()
        self.threads: set[threading.Thread] = set()
        self.idle = 0  # workers waiting for a number
        self.running = 0  # numbers a worker is delivering now
        self.reserved = 0  # numbers held for the lane while their first attempt is journaled
        self.ready = threading.Condition(lock)

    def room(self) -> int:
        """How many more numbers the lane takes: `depth` in flight and waiting (default: its workers' worth of
        each)."""
        return self.depth - self.running - self.reserved - len(self.queue)

# run(number, release) delivers one number; it calls release() once the delivery is complete, before it returns
# or later (from whichever thread makes its last journal write durable), and returns None or a call that makes
# that write durable now (and so release() called) — the worker's own next delivery usually does that for free.
Run = Callable[[int, Callable[[], None]], Callable[[], None] | None]


class Lanes:
    """Numbers offered to lanes, each delivered by `run` on one of its lane's workers; see the module doc."""

    def __init__(self, sizes: Mapping[str | None, int], run: Run, on_low: Callable[[], None],
                 depths: Mapping[str | None, int] | None = None) -> None:
        self._lock = threading.Lock()
        self._lanes = {name: Lane(name, size, self._lock, (depths or {}).get(name)) for name, size in sizes.items()}
        self._run, self._on_low = run, on_low
        self._busy: dict[int, Lane] = {}  # number → its lane, from offer until its delivery returns
        self._settled = threading.Condition(self._lock)
        self._watchers = 0  # threads in wait()
        self._closing = False

    def busy_numbers(self) -> list[int]:
        """The numbers waiting or in delivery now."""
        with self._lock:
            return list(self._busy)

    def is_busy(self, number: int) -> bool:
        """Whether a number waits in a lane or is being delivered."""
        return number in self._busy

    def room(self) -> int:
        """Numbers the lanes take before every one of them is full."""
        with self._lock:
            return sum(max(0, lane.room()) for lane in self._lanes.values())

    def offer(self, number: int, lane_name: str | None, urgent: bool = False) -> bool:
        """Queue a number on its lane unless it is busy already or the lane is full (`urgent`: at the front, even
        past a full lane: a payer is waiting for it). Returns whether it was queued."""
        with self._lock:
            lane = self._lanes[lane_name]
            if self._closing or number in self._busy or (lane.room() <= 0 and not urgent):
                return False
            self._busy[number] = lane
            self._queue(lane, number, urgent)
        return True

    def reserve(self, number: int, lane_name: str | None) -> bool:
        """Hold a place in a lane for a number (busy from now on) without queueing it yet: the caller journals
        its first attempt, then enqueue()s it, or unreserve()s it. False if it is busy or the lane is full."""
        with self._lock:
            lane = self._lanes[lane_name]
            if self._closing or number in self._busy or lane.room() <= 0:
                return False
            self._busy[number] = lane
            lane.reserved += 1
        return True

    def enqueue(self, number: int) -> None:
        """Queue a reserved number on its lane (at the back); one reserved while the lanes closed is let go."""
        with self._lock:
            lane = self._busy[number]
            lane.reserved -= 1
            if self._closing:
                self._free(number)
                return
            self._queue(lane, number, False)

    def unreserve(self, number: int) -> None:
        """Let a reserved number go without delivering it."""
        with self._lock:
            self._busy[number].reserved -= 1
            self._free(number)

    def _queue(self, lane: Lane, number: int, urgent: bool) -> None:
        if urgent:
            lane.queue.appendleft(number)
        else:
            lane.queue.append(number)
        if lane.idle:
            lane.ready.notify()
        # idle workers count until they have taken a number: more queued than idle needs another worker
        if lane.idle < len(lane.queue) and len(lane.threads) < lane.size:
            self._spawn(lane)

    def _free(self, number: int) -> None:
        del self._busy[number]
        if self._watchers:
            self._settled.notify_all()

    def _spawn(self, lane: Lane) -> None:
        thread = threading.Thread(target=self._work, args=(lane,), name=f"outbox-{lane.name}", daemon=True)
        lane.threads.add(thread)
        thread.start()

    def _work(self, lane: Lane) -> None:
        me = threading.current_thread()
        # how to make the last deliveries' final journal writes durable now: while the lane has a next number,
        # the next commit (a delivery's first write, or the loop's) carries them; with none, the worker commits
        # them before it waits
        held: list[Callable[[], None]] = []
        while True:
            with self._lock:
                if held and (self._closing or not lane.queue or len(held) >= HELD_LIMIT):
                    number = None
                else:
                    number = self._next(lane)
                    if number is None:
                        lane.threads.discard(me)
                        return
                    lane.running += 1
                    # once when the queue drops to half a lane (a refill arrives before the workers run dry), and
                    # when it empties (what was not due then may be now)
                    low = len(lane.queue) == (lane.depth - lane.size) // 2 or not lane.queue
            if number is None:
                for make_durable in held:
                    make_durable()  # the first commits them all; the others find theirs done
                held = []
                continue
            if low:
                self._on_low()
            try:
                pending = self._run(number, functools.partial(self._release, number))
                if pending is not None:
                    held.append(pending)
            finally:
                with self._lock:
                    # the worker is free: a number whose last write still waits for the disk holds no worker, so
                    # it leaves room for the next (else a lane of such numbers would wait for the loop's timeout)
                    lane.running -= 1

    def _release(self, number: int) -> None:
        """A delivery is complete (its outcome durable): its number is free again."""
        with self._lock:
            self._free(number)

    def _next(self, lane: Lane) -> int | None:
        """The lane's next number, waiting for one up to IDLE_SECONDS; None: the worker should end (lock held)."""
        deadline = time.monotonic() + IDLE_SECONDS
        while not lane.queue:
            remaining = deadline - time.monotonic()
            if self._closing or remaining <= 0:
                return None
            lane.idle += 1
            try:
                lane.ready.wait(remaining)
            finally:
                lane.idle -= 1
        return lane.queue.popleft()

    def wait(self, numbers: Iterable[int] | None = None, timeout: float | None = None) -> bool:
        """Block until these numbers (default: every busy one) have been delivered; False on timeout."""
        with self._lock:
            watched = set(self._busy if numbers is None else numbers)
            self._watchers += 1
            try:
                return self._settled.wait_for(lambda: not watched.intersection(self._busy), timeout)
            finally:
                self._watchers -= 1

    def close(self, timeout: float = 30.0) -> list[int]:
        """Drop what waits in the lanes (it stays due in the journal) and wait for deliveries in flight; returns
        the numbers dropped (no worker ever took them)."""
        dropped: list[int] = []
        with self._lock:
            self._closing = True
            for lane in self._lanes.values():
                for number in lane.queue:
                    del self._busy[number]
                dropped.extend(lane.queue)
                lane.queue.clear()
                lane.ready.notify_all()
            self._settled.notify_all()
            threads = [t for lane in self._lanes.values() for t in lane.threads]
        deadline = time.monotonic() + timeout
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            self._closing = False
        return dropped
