"""Configuration pushed from a real `kiosk-dealer serve` process to an enrolled terminal over the signed, mutually
authenticated link: applied between payments (a payment in progress keeps its fee), 304 when unchanged, a
tampered or invalid bundle refused and reported while the terminal runs on, and the stored bundle used again
after a restart (or the previous one when the current is damaged)."""

from __future__ import annotations

import base64
import json
import logging
import os
import stat
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select
from terminal_steps import act, to_cash

from kiosk import events as ev
from kiosk.app import Terminal
from kiosk.clock import ManualClock
from kiosk.dealer_link import config_sync
from kiosk.fees import FixedFee, NoFee

SECRET = "pa55-Word-only-the-terminal-sees"  # noqa: S105 - a test value that must appear nowhere but the bundle
BAD_SEED = "seed-secret-that-is-no-number"  # a secret the virtual gateway cannot start with


@pytest.fixture
def dealer(config: Any, tmp_path: Any) -> Iterator[Any]:
    """The dealer service in its own process, with this test's terminal enrolled (the demo dealer)."""
    from provisioning.demo import DemoDealer

    service = DemoDealer(tmp_path / "dealer", config.terminal, "Test street 1",
                         identity_dir=config.journal_path.parent / "dealer-link", heartbeat=False).start()
    yield service
    service.close()


class Fleet:
    """The dealer's side, worked directly on the service's database as the portal does."""

    def __init__(self, state: Any) -> None:
        from provisioning.config.vault import vault_of
        from provisioning.db import Database
        from provisioning.settings import Settings

        self.db = Database(Settings.load(state).db_url)
        self.vault = vault_of(state)

    def terminal(self, session: Any, number: str) -> Any:
        from provisioning.db.models import Terminal as Row

        return session.scalar(select(Row).where(Row.number == number))

    def publish(self, number: str, change: Any, name: str = "fleet") -> int:
        """Save a new version of document `name` with change(document) applied, assign it to the terminal."""
        from kiosk.config_document import parse_text
        from provisioning.config import store
        from provisioning.config.models import ConfigDocument

        with self.db.session() as session:
            terminal = self.terminal(session, number)
            document = session.scalar(select(ConfigDocument).where(ConfigDocument.name == name))
            if document is None:
                document = store.create_document(session, terminal.dealer_id, name, "boss@demo.local")
            text = store.latest(session, document).body
            body = parse_text(text)
            change(body)
            version = store.save_version(session, document, store.render(body), "boss@demo.local")
            store.assign(session, terminal.dealer_id, version.id, "boss@demo.local", terminal_id=terminal.id)
            return version.id

    def reports(self, number: str) -> list[tuple[int | None, str, str]]:
        from provisioning.config.models import ConfigReport

        with self.db.session() as session:
            terminal = self.terminal(session, number)
            return [(r.version_id, r.outcome, r.reason) for r in session.scalars(
                select(ConfigReport).where(ConfigReport.terminal_id == terminal.id).order_by(ConfigReport.id))]

    def close(self) -> None:
        self.db.close()


def _fee(kind: str, **values: Any) -> Any:
    def change(document: dict[str, Any]) -> None:
        mts = next(p for p in document["catalog"]["providers"] if p["id"] == "mts")
        mts["fee"] = {"kind": kind, **values}
    return change


def _pay(terminal: Terminal, clock: ManualClock, number: int | None = None) -> int:
    """Put a 100 ₽ bill into a payment to MTS (opening one unless `number` is open) or, given `number`, pay it and
    take the receipt."""
    if number is None:
        number = to_cash(terminal)
        terminal.validator.insert(100 * 100)  # type: ignore[attr-defined]
        terminal.pump()
        return number
    act(terminal, ev.Pay())
    clock.advance(terminal.config.timeouts["delivery"] + 1)
    act(terminal, ev.Tick(), ev.ReceiptTaken())
    assert terminal.session.between_payments(), terminal.session.state
    return number


def _pump_until(terminal: Terminal, wait: Any, predicate: Any, seconds: float = 30) -> bool:
    return bool(wait(lambda: terminal.pump() >= 0 and predicate(), seconds))


@pytest.mark.slow
def test_a_pushed_fee_applies_between_payments_and_a_bad_bundle_is_refused(config, dealer, tmp_path, wait, caplog):
    caplog.set_level(logging.DEBUG)
    fleet = Fleet(dealer.state_dir)
    clock = ManualClock(config.timezone)
    folder = config.journal_path.parent / "dealer-link"
    stored = config.journal_path.parent / config_sync.FOLDER
    try:
        first = fleet.publish(config.terminal, _fee("none"))
        with fleet.db.session() as session:
            from provisioning.config import store

            terminal_row = fleet.terminal(session, config.terminal)
            store.set_secret(session, terminal_row, "main", "password", SECRET, "boss@demo.local", fleet.vault)
        terminal = Terminal(config, clock=clock, background_checks=False)
        terminal.start(background_outbox=False)
        try:
            # The schedule's first pull goes at once; the apply waits for the UI thread (pump), between payments.
            terminal.config_sync = config_sync.start(terminal, folder, interval=3600)
            assert terminal.config_sync is not None
            assert _pump_until(terminal, wait, lambda: config_sync.applied_version(terminal) == first)
            assert terminal.gateways["main"].options["password"] == SECRET  # type: ignore[attr-defined]
            assert stat.S_IMODE(os.stat(stored / config_sync.CURRENT).st_mode) == 0o600
            assert stat.S_IMODE(os.stat(stored).st_mode) == 0o700
            assert wait(lambda: (first, "applied", "") in fleet.reports(config.terminal))

            # A payment is in progress when the dealer raises the fee: it keeps the fee it started with.
            number = _pay(terminal, clock)
            second = fleet.publish(config.terminal, _fee("fixed", amount=5))
            assert config_sync.sync_now(terminal)["outcome"] == "applying"
            for _ in range(5):
                terminal.post(ev.Tick())
                terminal.pump()
            assert config_sync.applied_version(terminal) == first
            assert isinstance(terminal.catalog.provider("mts").fee, NoFee)
            _pay(terminal, clock, number)  # idle again: the waiting configuration is applied now
            assert config_sync.applied_version(terminal) == second
            assert terminal.journal.find(number).fee == 0
            assert isinstance(terminal.catalog.provider("mts").fee, FixedFee)
            following = _pay(terminal, clock, _pay(terminal, clock))
            assert terminal.journal.find(following).fee == 500  # the next payment pays the new fee
            assert wait(lambda: (second, "applied", "") in fleet.reports(config.terminal))
            # the heartbeat reports the version in force
            assert terminal.dealer_link is None
            from kiosk.dealer_link.status import terminal_status

            assert terminal_status(terminal)["config_version"] == second

            # Nothing changed: the service answers 304 to the ETag the terminal holds.
            sync = terminal.config_sync
            assert sync.pull()["outcome"] == "unchanged"
            raw = sync._fetch({"If-None-Match": sync.etag})
            assert raw.status_code == 304 and raw.headers["etag"] == sync.etag and not raw.content

            # Someone in between changes a signed bundle (the fee, in the payload): refused, reported, nothing kept.
            third = fleet.publish(config.terminal, _fee("fixed", amount=7))
            real_fetch = sync._fetch

            def tampering(headers: dict[str, str]) -> Any:
                reply = real_fetch(headers)
                if reply.status_code == 200:
                    outer = json.loads(reply.content)
                    inner = json.loads(base64.b64decode(outer["payload"]))
                    next(p for p in inner["document"]["catalog"]["providers"] if p["id"] == "mts")["fee"] = {
                        "kind": "none"}
                    outer["payload"] = base64.b64encode(json.dumps(inner).encode()).decode()
                    reply._content = json.dumps(outer).encode()
                return reply

            sync._fetch = tampering  # type: ignore[method-assign]
            outcome = sync.pull()
            assert outcome["outcome"] == "refused" and "signature does not verify" in outcome["reason"]
            sync._fetch = real_fetch  # type: ignore[method-assign]
            assert sync.pull()["outcome"] == "unchanged"  # the refused bundle is not fetched again; reports go
            refused = [r for r in fleet.reports(config.terminal) if r[1] == "refused"]
            assert refused and refused[-1][0] == third and "signature does not verify" in refused[-1][2]
            assert config_sync.applied_version(terminal) == second
            assert isinstance(terminal.catalog.provider("mts").fee, FixedFee)
            assert terminal.catalog.provider("mts").fee.amount.minor == 500  # type: ignore[attr-defined]

            # A bundle the service accepts but this terminal cannot run (a route to a gateway it lacks): refused.
            def route_nowhere(document: dict[str, Any]) -> None:
                document["catalog"]["providers"][0]["routes"][0]["gateway"] = "nowhere"

            fourth = fleet.publish(config.terminal, route_nowhere)
            outcome = sync.pull()
            assert outcome["outcome"] == "refused" and "no gateway named 'nowhere'" in outcome["reason"]
            assert outcome["reason"].startswith("configuration document: catalog.providers[0].routes[0].gateway")
            sync.pull()
            assert (fourth, "refused", outcome["reason"]) in fleet.reports(config.terminal)
            assert config_sync.applied_version(terminal) == second and terminal.session.fault is None

            # Valid, but the gateway cannot start with its new secret: nothing changes, the reason names no value.
            def route_back(document: dict[str, Any]) -> None:
                document["catalog"]["providers"][0]["routes"][0]["gateway"] = "main"

            fifth = fleet.publish(config.terminal, route_back)
            with fleet.db.session() as session:
                store.set_secret(session, fleet.terminal(session, config.terminal), "main", "seed", BAD_SEED,
                                 "boss@demo.local", fleet.vault)
            assert sync.pull()["outcome"] == "applying"
            terminal.pump()
            assert config_sync.applied_version(terminal) == second
            assert terminal.gateways["main"].options["password"] == SECRET  # type: ignore[attr-defined]
            assert terminal.gateways["main"].options["seed"] == 0  # type: ignore[attr-defined]
            sync.pull()
            refused = [r for r in fleet.reports(config.terminal) if r[0] == fifth]
            assert refused == [(fifth, "refused", "cannot run it: a gateway adapter failed to start (ValueError)")]
        finally:
            terminal.close()
        assert terminal.config_sync is None

        # After a restart the terminal runs the stored configuration before it ever reaches the service.
        again = Terminal(config, clock=clock, background_checks=False)
        try:
            assert config_sync.applied_version(again) == second
            assert again.catalog.provider("mts").fee.amount.minor == 500  # type: ignore[attr-defined]
        finally:
            again.close()
        # A damaged current bundle (a disk fault): the previous complete one is used, never a mixture.
        (stored / config_sync.CURRENT).write_bytes(b'{"payload": "trunc')
        damaged = Terminal(config, clock=clock, background_checks=False)
        try:
            assert config_sync.applied_version(damaged) == first
            assert isinstance(damaged.catalog.provider("mts").fee, NoFee)
        finally:
            damaged.close()

        # The secret went only into the bundle: not into any log line, audit row or the service's database file.
        assert SECRET not in caplog.text and BAD_SEED not in caplog.text
        with fleet.db.session() as session:
            from provisioning.db.models import AuditEntry

            for row in session.scalars(select(AuditEntry)):
                text = f"{row.actor} {row.target} {row.before} {row.after} {row.reason}"
                assert SECRET not in text and BAD_SEED not in text
        assert SECRET.encode() not in (dealer.state_dir / "dealer.sqlite").read_bytes()
        assert SECRET not in (dealer.state_dir / "serve.log").read_text()
    finally:
        fleet.close()
