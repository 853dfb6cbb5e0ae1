"""Periodic chores of a running terminal, on an APScheduler background scheduler.

None of them is on the money path: each only keeps something fresh (the printer's status for the next payer),
bounded (the journal's write-ahead log) or moving (a nudge to the outbox in case a wake-up was missed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from apscheduler.schedulers.background import BackgroundScheduler

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Chore:
    """One periodic job."""

    name: str
    seconds: float
    action: Callable[[], object]


def _guarded(chore: Chore) -> Callable[[], None]:
    def run() -> None:
        try:
            chore.action()
        except Exception:  # a chore that fails must not stop the others, nor the terminal
            log.exception("housekeeping: %s failed", chore.name)

    return run


def start(chores: list[Chore], timezone: object) -> BackgroundScheduler:
    """Run each chore every `seconds`, never two runs of one chore at once, missed runs folded into one."""
    scheduler = BackgroundScheduler(timezone=timezone, job_defaults={"coalesce": True, "max_instances": 1})
    for chore in chores:
        scheduler.add_job(_guarded(chore), "interval", seconds=chore.seconds, id=chore.name, name=chore.name)
    scheduler.start()
    return scheduler
