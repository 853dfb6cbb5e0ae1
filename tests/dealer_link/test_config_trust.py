"""What a terminal trusts beyond a valid signature, against a real `kiosk-dealer serve` process over the link: a
replayed older bundle (or one reusing the sequence in force with other content) is refused and reported, a
deliberate rollback is a new bundle that applies, a deleted gateway secret leaves no copy on the terminal, and after
the dealer rotates its signing key (twice, while the terminal was not pulling) the terminal re-pins the newest key
and refuses anything the old key signs."""

from __future__ import annotations

import base64
import json
import logging
from typing import Any

import test_config_push
from sqlalchemy import select
from test_config_push import SECRET, Fleet, _fee

from kiosk.app import Terminal
from kiosk.clock import ManualClock
from kiosk.dealer_link import config_sync, trust
from kiosk.dealer_link.bundle import canonical, envelope
from kiosk.fees import FixedFee, NoFee
from provisioning.cli import main as dealer_cli

dealer = test_config_push.dealer  # the service in its own process, this test's terminal enrolled


def _apply(terminal: Terminal, wait: Any) -> dict[str, Any]:
    """Pull now and, when a bundle is taken, let the UI thread apply it (between payments)."""
    sync: Any = terminal.config_sync
    outcome = sync.pull()
    assert outcome["outcome"] == "applying", outcome
    assert wait(lambda: terminal.pump() >= 0 and {"etag": sync.etag, "outcome": "applied"}.items() <= next(
        (r for r in sync._unreported if r["etag"] == sync.etag), {}).items())
    return outcome


def _serving(sync: Any, body: bytes) -> None:
    """Make the next fetch answer `body` (someone replaying or forging a bundle between service and terminal)."""
    real = sync._fetch

    def once(headers: dict[str, str]) -> Any:
        sync._fetch = real
        reply = real({})
        reply._content = body
        return reply

    sync._fetch = once


def _payload(body: bytes) -> dict[str, Any]:
    return dict(json.loads(base64.b64decode(json.loads(body)["payload"])))


def _dealer_key(fleet: Fleet) -> tuple[Any, bytes]:
    """The dealer's current signing key and certificate, read from the service's database (as a thief would)."""
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from provisioning.config.models import DealerSigningKey

    with fleet.db.session() as session:
        row = session.scalars(select(DealerSigningKey)).one()
        return (ed25519.Ed25519PrivateKey.from_private_bytes(bytes.fromhex(fleet.vault.open(row.key_ciphertext))),
                row.certificate_pem.encode())


def _forge(key: Any, cert_pem: bytes, payload: dict[str, Any]) -> bytes:
    raw = canonical(payload)
    return envelope(raw, key.sign(raw), cert_pem)


def _start(config: Any, clock: ManualClock) -> Terminal:
    terminal = Terminal(config, clock=clock, background_checks=False)
    terminal.start(background_outbox=False)
    from kiosk.dealer_link.client import DealerLink

    # No schedule thread: every pull in these tests is the test's own (a replay is served to exactly that pull).
    terminal.config_sync = config_sync.ConfigSync(terminal, DealerLink(config.journal_path.parent / "dealer-link"))
    return terminal


def _refused(fleet: Fleet, number: str) -> list[str]:
    return [reason for _, outcome, reason in fleet.reports(number) if outcome == "refused"]


def test_replays_are_refused_a_rollback_is_new_and_a_deleted_secret_leaves_no_copy(config, dealer, wait, caplog):
    caplog.set_level(logging.DEBUG)
    fleet = Fleet(dealer.state_dir)
    clock = ManualClock(config.timezone)
    stored = config.journal_path.parent / config_sync.FOLDER
    from provisioning.config import store

    try:
        first = fleet.publish(config.terminal, _fee("none"))
        with fleet.db.session() as session:
            store.set_secret(session, fleet.terminal(session, config.terminal), "main", "password", SECRET,
                             "boss@demo.local", fleet.vault)
        terminal = _start(config, clock)
        try:
            sync = terminal.config_sync
            assert _apply(terminal, wait)["version"] == first
            old = (stored / config_sync.CURRENT).read_bytes()
            assert _payload(old)["sequence"] == 1

            second = fleet.publish(config.terminal, _fee("fixed", amount=5))
            assert _apply(terminal, wait)["version"] == second
            assert trust.load(stored).sequence == 2

            # The first bundle, correctly signed, served again: refused, reported, the terminal stays on the second.
            _serving(sync, old)
            outcome = sync.pull()
            assert outcome["outcome"] == "refused"
            assert "older than the configuration in force (sequence 1 < 2)" in outcome["reason"]
            assert config_sync.applied_version(terminal) == second
            assert isinstance(terminal.catalog.provider("mts").fee, FixedFee)
            assert sync.pull()["outcome"] == "unchanged"  # the refused bundle is not taken again; the report goes
            assert wait(lambda: any("sequence 1 < 2" in r for r in _refused(fleet, config.terminal)))

            # Signed with the dealer's real key, the sequence in force, other content (fee back to none): refused.
            key, cert = _dealer_key(fleet)
            forged = _payload((stored / config_sync.CURRENT).read_bytes())
            next(p for p in forged["document"]["catalog"]["providers"] if p["id"] == "mts")["fee"] = {"kind": "none"}
            _serving(sync, _forge(key, cert, forged))
            outcome = sync.pull()
            assert outcome["outcome"] == "refused" and "the same sequence 2" in outcome["reason"]
            assert isinstance(terminal.catalog.provider("mts").fee, FixedFee)

            # A deliberate rollback: the dealer assigns the first version again — a new bundle, a higher sequence.
            with fleet.db.session() as session:
                row = fleet.terminal(session, config.terminal)
                store.assign(session, row.dealer_id, first, "boss@demo.local", terminal_id=row.id)
            assert _apply(terminal, wait)["version"] == first
            assert isinstance(terminal.catalog.provider("mts").fee, NoFee)
            assert trust.load(stored).sequence == 3
            assert terminal.gateways["main"].options["password"] == SECRET  # type: ignore[attr-defined]
            assert "password" in _payload((stored / config_sync.PREVIOUS).read_bytes())["secrets"]["main"]

            # The dealer deletes the secret: the next bundle goes without it and no file on the terminal keeps it.
            code = dealer_cli(["--state", str(dealer.state_dir), "config", "delete-secret", "--dealer", "demo",
                               "--terminal", config.terminal, "main", "password"])
            assert code == 0
            assert _apply(terminal, wait)["version"] == first
            assert terminal.gateways["main"].options.get("password") != SECRET  # type: ignore[attr-defined]
            assert not (stored / config_sync.PREVIOUS).exists()
            assert sorted(p.name for p in stored.iterdir()) == [config_sync.CURRENT, trust.TRUST]
            assert SECRET.encode() not in (stored / trust.TRUST).read_bytes()
            assert SECRET not in json.dumps(_payload((stored / config_sync.CURRENT).read_bytes()))
            # … nor does the service send it again, and a second delete is an error naming the secret.
            assert "password" not in _payload(sync._fetch({}).content).get("secrets", {}).get("main", {})
            assert dealer_cli(["--state", str(dealer.state_dir), "config", "delete-secret", "--dealer", "demo",
                               "--terminal", config.terminal, "main", "password"]) == 2
        finally:
            terminal.close()
        with fleet.db.session() as session:
            from provisioning.db.models import AuditEntry

            deleted = session.scalars(select(AuditEntry).where(AuditEntry.action == "config.secret_delete")).all()
            assert [(e.target, json.loads(e.after)) for e in deleted] == [
                (f"terminal {config.terminal}", {"gateway": "main", "name": "password", "set": False})]
        assert SECRET not in caplog.text
    finally:
        fleet.close()


def test_a_rotated_key_is_pinned_even_after_missing_rotations_and_the_old_key_is_refused(config, dealer, wait):
    fleet = Fleet(dealer.state_dir)
    clock = ManualClock(config.timezone)
    stored = config.journal_path.parent / config_sync.FOLDER
    try:
        first = fleet.publish(config.terminal, _fee("fixed", amount=3))
        terminal = _start(config, clock)
        try:
            sync = terminal.config_sync
            assert _apply(terminal, wait)["version"] == first
            pinned = trust.load(stored)
            assert pinned.key_generation == 1 and pinned.sequence == 1
            old_key, old_cert = _dealer_key(fleet)

            # Two rotations while this terminal is not pulling (offline): it learns only the newest key, through
            # the CA it pinned at enrollment, with the unchanged configuration signed anew.
            for _ in range(2):
                assert dealer_cli(["--state", str(dealer.state_dir), "config", "rotate-key", "--dealer", "demo"]) == 0
                assert _dealer_key(fleet)[1] != old_cert
            assert _apply(terminal, wait)["version"] == first
            assert trust.load(stored).key_generation == 3 and trust.load(stored).sequence == 1
            assert trust.load(stored).key_sha256 != pinned.key_sha256

            # The retired key (stolen, say) signs a newer-looking bundle: refused, whatever its sequence.
            forged = _payload((stored / config_sync.CURRENT).read_bytes())
            forged["sequence"] = 99
            next(p for p in forged["document"]["catalog"]["providers"] if p["id"] == "mts")["fee"] = {"kind": "none"}
            _serving(sync, _forge(old_key, old_cert, forged))
            outcome = sync.pull()
            assert outcome["outcome"] == "refused"
            assert "retired dealer key (generation 1; this terminal has pinned generation 3" in outcome["reason"]
            assert terminal.catalog.provider("mts").fee.amount.minor == 300  # type: ignore[attr-defined]

            # The new key goes on working for new configuration.
            second = fleet.publish(config.terminal, _fee("fixed", amount=4))
            assert _apply(terminal, wait)["version"] == second
            assert terminal.catalog.provider("mts").fee.amount.minor == 400  # type: ignore[attr-defined]
            assert wait(lambda: any("retired dealer key" in r for r in _refused(fleet, config.terminal)))
        finally:
            terminal.close()
        # After a restart the pin holds (it is on disk, 0600).
        again = _start(config, clock)
        try:
            assert again.config_sync.trust.key_generation == 3  # type: ignore[attr-defined]
        finally:
            again.close()
        with fleet.db.session() as session:
            from provisioning.db.models import AuditEntry

            rotations = session.scalars(select(AuditEntry).where(AuditEntry.action == "config.key_rotate")).all()
            assert [json.loads(e.after)["generation"] for e in rotations] == [2, 3]
    finally:
        fleet.close()
