"""Alerts on SQLite and PostgreSQL: each opens once and closes once as heartbeats (posted through the real signed
route) change, is never repeated while its condition persists, reaches the webhook (HMAC-signed) and the SMTP
server exactly once per event, is retried with back-off when the receiver fails, and stays single when two
evaluators and two senders race."""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections import Counter
from collections.abc import Iterator

import pytest
from monitor_support import SmtpServer, WebhookReceiver, enrolled, payload
from sqlalchemy import select, update

from provisioning.db import Database
from provisioning.db.models import Dealer, PeriodicJob, Terminal, utcnow
from provisioning.monitor import alerts, delivery
from provisioning.monitor.models import Alert, AlertChannel, AlertDelivery, AlertRule
from provisioning.periodic import PeriodicWorker
from provisioning.server import DealerServer

SECRET = "webhook secret for the tests"


@pytest.fixture(scope="module")
def server(dealer_state) -> Iterator[DealerServer]:
    # The periodic worker runs once at start (nothing to do yet) and then sleeps: each test drives the jobs itself.
    with DealerServer(dealer_state, periodic_tick=3600) as running:
        yield running


@pytest.fixture(scope="module")
def receivers(db_url) -> Iterator[tuple[WebhookReceiver, SmtpServer]]:  # new ones per database
    hook, smtp = WebhookReceiver(), SmtpServer()
    yield hook, smtp
    hook.close()
    smtp.close()


@pytest.fixture
def settings(dealer_state, receivers):
    return dataclasses.replace(dealer_state, smtp_host="127.0.0.1", smtp_port=receivers[1].port,
                               smtp_from="alerts@dealer.test")


def _dealer(database, slug: str, rules: dict[str, int], hook: WebhookReceiver, email: str = "ops@acme.test") -> int:
    with database.session() as session:
        from provisioning import tenants

        dealer = session.scalar(select(Dealer).where(Dealer.slug == slug)) or tenants.create_dealer(session, slug, slug)
        for kind, threshold in rules.items():
            session.add(AlertRule(dealer_id=dealer.id, kind=kind, threshold=threshold, enabled=True))
        session.add(AlertChannel(dealer_id=dealer.id, webhook_url=hook.url, webhook_secret=SECRET, emails=email))
        return dealer.id


def _evaluate(database, settings, now=None) -> tuple[int, int]:
    with database.session() as session:
        return alerts.evaluate(session, now or utcnow(), settings)


def _alerts(database, number: str) -> list[Alert]:
    with database.session() as session:
        terminal_id = session.scalar(select(Terminal.id).where(Terminal.number == number))
        return list(session.scalars(select(Alert).where(Alert.terminal_id == terminal_id).order_by(Alert.id)))


def _for(messages, number: str):
    return [m for m in messages if m.get("terminal") == number]


def test_an_alert_opens_once_closes_once_and_each_channel_gets_one_message_per_event(
        server, database, settings, receivers, tmp_path):
    hook, smtp = receivers
    _dealer(database, "acme", {"paper_out": 0}, hook)
    with enrolled(server, database, tmp_path, "5001") as link:
        link.heartbeat(payload(paper="out"))
        assert _evaluate(database, settings) == (1, 0)
        for _ in range(3):  # the paper is still out: nothing new, every minute
            assert _evaluate(database, settings) == (0, 0)
            delivery.deliver_due(database, settings)
        [opened] = _alerts(database, "5001")
        assert opened.kind == "paper_out" and opened.closed_at is None and "out of paper" in opened.detail
        link.heartbeat(payload(paper="ok"))
        assert _evaluate(database, settings) == (0, 1)
        for _ in range(2):
            assert _evaluate(database, settings) == (0, 0)
            delivery.deliver_due(database, settings)
    [closed] = _alerts(database, "5001")
    assert closed.closed_at is not None and closed.close_detail == "cleared"
    documents = _for(hook.documents(), "5001")
    assert [d["event"] for d in documents] == ["opened", "closed"]
    assert documents[0]["alert"]["kind"] == "paper_out" and documents[0]["dealer"] == "acme"
    for headers, body in [r for r in hook.received if b'"5001"' in r[1]]:
        assert delivery.verify(SECRET, headers[delivery.SIGNATURE_HEADER], body)
        assert not delivery.verify("another secret", headers[delivery.SIGNATURE_HEADER], body)
    mails = [m for m in smtp.messages if "terminal 5001" in m["Subject"]]
    assert len(mails) == 2 and "ALERT" in mails[0]["Subject"] and "resolved" in mails[1]["Subject"]
    assert mails[0]["To"] == "ops@acme.test" and mails[0]["From"] == "alerts@dealer.test"
    assert mails[0]["Message-ID"] != mails[1]["Message-ID"]


def test_offline_after_the_threshold_and_back_online_with_the_next_heartbeat(server, database, settings, receivers,
                                                                              tmp_path, monkeypatch):
    hook, _ = receivers
    _dealer(database, "silent", {"offline": 300}, hook, email="")
    with enrolled(server, database, tmp_path, "5002", dealer="silent") as link:
        link.heartbeat(payload())
        now = utcnow()
        assert _evaluate(database, settings, now + dt.timedelta(seconds=299)) == (0, 0)
        # a server that has listened for less than the threshold (back after an outage) cannot tell yet
        monkeypatch.setattr(alerts, "LISTENING_SINCE", now + dt.timedelta(seconds=100))
        assert _evaluate(database, settings, now + dt.timedelta(seconds=302)) == (0, 0)
        monkeypatch.setattr(alerts, "LISTENING_SINCE", now - dt.timedelta(days=1))
        assert _evaluate(database, settings, now + dt.timedelta(seconds=302)) == (1, 0)
        assert _evaluate(database, settings, now + dt.timedelta(seconds=900)) == (0, 0)
        link.heartbeat(payload())
        assert _evaluate(database, settings) == (0, 1)
    [alert] = _alerts(database, "5002")
    assert "no heartbeat for 5 min" in alert.detail and alert.closed_at is not None
    with database.session() as session:  # no e-mail address: only the webhook's two deliveries
        channels = session.scalars(select(AlertDelivery.channel).where(AlertDelivery.alert_id == alert.id)).all()
    assert sorted(channels) == ["webhook", "webhook"]


@pytest.mark.parametrize(("kind", "threshold", "bad", "good"), [
    ("cassette", 90, {"cassette": {"count": 950, "kopecks": 1, "capacity": 1000}}, {}),
    ("needs_attention", 0, {"needs_attention": 2}, {}),
    ("validator_fault", 0, {"validator": {"kind": "ccnet", "online": True, "state": "drop cassette jammed",
                                          "detail": ""}}, {}),
    ("validator_fault", 0, {"validator": {"kind": "ccnet", "online": False, "state": "", "detail": ""}}, {}),
    ("clock_skew", 120, {"clock_skew_s": -300.0}, {"clock_skew_s": 3.0}),
])
def test_every_rule_kind_opens_on_its_condition_and_closes_when_it_clears(server, database, settings, receivers,
                                                                          tmp_path, kind, threshold, bad, good):
    slug = f"k-{kind.replace('_', '-')}-{len(bad) + len(str(bad))}"
    _dealer(database, slug, {kind: threshold}, receivers[0], email="")
    number = f"6{abs(hash(slug)) % 100000:05d}"
    with enrolled(server, database, tmp_path, number, dealer=slug) as link:
        link.heartbeat(payload(**bad))
        assert _evaluate(database, settings) == (1, 0)
        link.heartbeat(payload(**good))
        assert _evaluate(database, settings) == (0, 1)
    assert [a.kind for a in _alerts(database, number)] == [kind]


def test_a_rule_switched_off_closes_its_open_alerts_once(server, database, settings, receivers, tmp_path):
    dealer_id = _dealer(database, "switch", {"needs_attention": 0}, receivers[0], email="")
    with enrolled(server, database, tmp_path, "5003", dealer="switch") as link:
        link.heartbeat(payload(needs_attention=1))
        assert _evaluate(database, settings) == (1, 0)
    with database.session() as session:
        session.execute(update(AlertRule).where(AlertRule.dealer_id == dealer_id).values(enabled=False))
    assert _evaluate(database, settings) == (0, 1)
    assert _evaluate(database, settings) == (0, 0)
    [alert] = _alerts(database, "5003")
    assert "no longer watched" in alert.close_detail


def test_a_failing_webhook_is_retried_with_back_off_and_delivered_once(server, database, settings, receivers,
                                                                       tmp_path):
    hook, _ = receivers
    flaky = _dealer(database, "flaky", {"paper_out": 0}, hook, email="")
    with enrolled(server, database, tmp_path, "5004", dealer="flaky") as link:
        link.heartbeat(payload(paper="out"))
    delivery.deliver_due(database, settings, limit=1000)  # what other tests left waiting
    _evaluate(database, settings)
    hook.fail_next = 2
    start = utcnow()
    clock = [start]
    assert delivery.deliver_due(database, settings, clock=lambda: clock[0]) == 1  # refused: 500
    assert delivery.deliver_due(database, settings, clock=lambda: clock[0]) == 0  # not due before its back-off
    clock[0] = start + dt.timedelta(seconds=31)
    assert delivery.deliver_due(database, settings, clock=lambda: clock[0]) == 1  # refused again
    clock[0] = start + dt.timedelta(seconds=31 + 59)
    assert delivery.deliver_due(database, settings, clock=lambda: clock[0]) == 0  # the second wait is 60 s
    clock[0] = start + dt.timedelta(seconds=31 + 61)
    assert delivery.deliver_due(database, settings, clock=lambda: clock[0]) == 1
    assert len(_for(hook.documents(), "5004")) == 1 and hook.refused >= 2
    [alert] = _alerts(database, "5004")
    with database.session() as session:
        [row] = session.scalars(select(AlertDelivery).where(AlertDelivery.alert_id == alert.id)).all()
    assert row.state == "sent" and row.attempts == 3 and row.last_error == ""
    # a channel removed meanwhile: given up at once, since no retry can reach it
    with database.session() as session:
        session.execute(update(AlertChannel).where(AlertChannel.dealer_id == flaky).values(webhook_url=""))
        session.add(AlertDelivery(alert_id=alert.id, event="closed", channel="webhook", next_attempt_at=start))
    assert delivery.deliver_due(database, settings, clock=lambda: clock[0]) == 1
    with database.session() as session:
        gone = session.scalars(select(AlertDelivery).where(AlertDelivery.alert_id == alert.id,
                                                           AlertDelivery.event == "closed")).one()
        session.execute(update(AlertChannel).where(AlertChannel.dealer_id == flaky).values(webhook_url=hook.url))
    assert gone.state == "failed" and gone.attempts == 1 and "no webhook any more" in gone.last_error


def test_two_evaluators_and_two_senders_racing_send_each_alert_once(server, database, settings, receivers, tmp_path):
    hook, smtp = receivers
    _dealer(database, "race", {"paper_out": 0, "needs_attention": 0}, hook, email="race@acme.test")
    numbers = [f"70{i:02d}" for i in range(6)]
    for number in numbers:
        with enrolled(server, database, tmp_path, number, dealer="race") as link:
            link.heartbeat(payload(paper="out", needs_attention=3))
    barrier = threading.Barrier(2)
    failures: list[BaseException] = []

    def evaluator() -> None:
        try:
            barrier.wait(10)
            for _ in range(4):
                _evaluate(database, settings)
                delivery.deliver_due(database, settings)
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            failures.append(exc)

    threads = [threading.Thread(target=evaluator, name=f"evaluator-{i}") for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures
    delivery.deliver_due(database, settings)
    expected = Counter({(n, k, "opened"): 1 for n in numbers for k in ("paper_out", "needs_attention")})
    webhook = Counter((d["terminal"], d["alert"]["kind"], d["event"]) for d in hook.documents()
                      if d["dealer"] == "race")
    assert webhook == expected
    mails = Counter(m["Subject"].split(":")[1].strip() for m in smtp.messages if "[kiosk race]" in m["Subject"])
    assert len(mails) == 12 and set(mails.values()) == {1}
    with database.session() as session:
        assert session.scalars(select(AlertDelivery.state).join(Alert).where(Alert.dealer_id.in_(
            select(Dealer.id).where(Dealer.slug == "race")))).all() == ["sent"] * 24


def test_the_periodic_workers_of_two_servers_evaluate_and_send_each_alert_once(server, database, settings,
                                                                                 receivers, tmp_path):
    hook, smtp = receivers
    _dealer(database, "workers", {"cassette": 90}, hook, email="workers@acme.test")
    numbers = ["8001", "8002", "8003"]
    for number in numbers:
        with enrolled(server, database, tmp_path, number, dealer="workers") as link:
            link.heartbeat(payload(cassette={"count": 990, "kopecks": 1, "capacity": 1000}))
    with database.session() as session:  # due now (the module's server ran it at start, for its 15 s period)
        session.execute(update(PeriodicJob).where(PeriodicJob.name == "evaluate_alerts").values(next_run_at=utcnow()))
    # the periodic machinery of two servers, each with its own connection pool, offering jobs every 50 ms
    pools = [Database(settings.db_url) for _ in range(2)]
    workers = [PeriodicWorker(pool, settings, f"server-{i}", tick=0.05, periods={"evaluate_alerts": 0.2}).start()
               for i, pool in enumerate(pools)]
    try:
        deadline = time.monotonic() + 20
        while len([d for d in hook.documents() if d["dealer"] == "workers"]) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1)  # several more evaluations and sending rounds: nothing more may arrive
    finally:
        for worker in workers:
            worker.close()
        for pool in pools:
            pool.close()
    sent = Counter(d["terminal"] for d in hook.documents() if d["dealer"] == "workers")
    assert sent == Counter({n: 1 for n in numbers})
    assert len([m for m in smtp.messages if "[kiosk workers]" in m["Subject"]]) == 3


def test_words_a_terminal_reports_cannot_add_headers_to_the_alert_e_mail(server, database, settings, receivers,
                                                                         tmp_path):
    hook, smtp = receivers
    _dealer(database, "inject", {"validator_fault": 0}, hook, email="ops@inject.test")
    with enrolled(server, database, tmp_path, "8101", dealer="inject") as link:
        link.heartbeat(payload(validator={"kind": "ccnet", "online": True, "detail": "",
                                          "state": "failure\r\nBcc: thief@evil.example"}))
    assert _evaluate(database, settings)[0] >= 1
    delivery.deliver_due(database, settings, limit=1000)
    [mail] = [m for m in smtp.messages if "[kiosk inject]" in m["Subject"]]
    assert mail["Bcc"] is None and "thief@evil.example" in mail["Subject"] and "\n" not in mail["Subject"]
    [alert] = _alerts(database, "8101")
    assert alert.detail == "bill validator: failure  Bcc: thief@evil.example"
