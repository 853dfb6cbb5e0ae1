"""The hourly heartbeat rollup on SQLite and PostgreSQL, in a database of its own (the rollup's progress is the
whole service's, so another module's heartbeats would move it)."""

from __future__ import annotations

import datetime as dt
import json

from monitor_support import payload
from sqlalchemy import select

from provisioning import tenants
from provisioning.db.models import Heartbeat, utcnow
from provisioning.monitor import history
from provisioning.monitor.models import HeartbeatHour


def test_the_rollup_gets_past_a_silence_longer_than_one_runs_window(database, dealer_state):
    """Every terminal off for over two days (longer than ROLLUP_MAX_HOURS) while the service runs: the next
    heartbeats are summed up all the same (the rollup once looked at the same empty window for ever)."""
    start = (utcnow() - dt.timedelta(days=10)).replace(minute=5, second=0, microsecond=0)
    with database.session() as session:
        dealer = tenants.create_dealer(session, "silent", "Silent")
        terminal = tenants.add_terminal(session, dealer, "5901", "Lenina 59", "Europe/Moscow", "", "test")
        for hours, operation in ((0, 7), (history.ROLLUP_MAX_HOURS * 2 + 5, 9)):  # a silence of four days
            session.add(Heartbeat(terminal_id=terminal.id, received_at=start + dt.timedelta(hours=hours),
                                  payload=json.dumps(payload(last_operation=operation))))
    later = start + dt.timedelta(hours=history.ROLLUP_MAX_HOURS * 3)
    with database.session() as session:
        for _ in range(10):
            history.rollup(session, later, dealer_state)
        hours = session.execute(select(HeartbeatHour.hour, HeartbeatHour.last_operation)
                                .where(HeartbeatHour.terminal_id == terminal.id).order_by(HeartbeatHour.hour)).all()
    first = int(start.timestamp()) // 3600
    assert [tuple(h) for h in hours] == [(first, 7), (first + history.ROLLUP_MAX_HOURS * 2 + 5, 9)]
