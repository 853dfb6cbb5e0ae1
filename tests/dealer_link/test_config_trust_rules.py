"""The terminal's trust rules over real signed bundles (no service): which sequence and key generation go back,
what is pinned and that it is only ever raised, the pin file surviving damage, and the stored files keeping no
copy of a deleted secret."""

from __future__ import annotations

import dataclasses
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from kiosk.config_document import starter
from kiosk.dealer_link import config_sync, trust
from kiosk.dealer_link.bundle import (
    DEALER_URN,
    FORMAT,
    GENERATION_URN,
    BundleRefused,
    Opened,
    canonical,
    envelope,
    generation_of,
    open_signed,
)
from provisioning.config.bundles import certify
from provisioning.identity.ca import create_ca

CA = create_ca()
CA_PEM = CA.cert.public_bytes(serialization.Encoding.PEM)
KEYS = {generation: ed25519.Ed25519PrivateKey.generate() for generation in (1, 2)}
OTHER_GEN2 = ed25519.Ed25519PrivateKey.generate()


def _signed(sequence: int, generation: int = 1, key: ed25519.Ed25519PrivateKey | None = None, fee: int = 0,
            secrets: dict | None = None) -> bytes:
    document = starter()
    document["limits"]["min_operation"] = 10 + fee
    body = canonical({"format": FORMAT, "dealer": "acme", "terminal": "10001", "version": 1, "label": "fleet v1",
                      "document": document, "secrets": secrets or {}, "sequence": sequence})
    key = key or KEYS[generation]
    cert = certify(CA, "acme", key.public_key(), generation=generation)
    return envelope(body, key.sign(body), cert.public_bytes(serialization.Encoding.PEM))


def _opened(data: bytes) -> Opened:
    return open_signed(data, CA_PEM, "acme", "10001")


IN_FORCE = trust.Trust().after(_opened(_signed(5)))


@pytest.mark.parametrize(("data", "reason"), [
    (_signed(4), "older than the configuration in force (sequence 4 < 5)"),
    (_signed(5, fee=1), "the same sequence 5 as the configuration in force with other content"),
    (_signed(6, key=OTHER_GEN2, generation=1), "signed by a dealer key of generation 1 that is not the one"),
])
def test_what_would_go_back_is_refused(data, reason):
    with pytest.raises(BundleRefused, match=reason.replace("(", r"\(").replace(")", r"\)")):
        IN_FORCE.judge(_opened(data))


def test_newer_passes_a_rotation_is_pinned_and_then_the_old_generation_is_refused():
    IN_FORCE.judge(_opened(_signed(5)))  # the bundle in force again: fine
    IN_FORCE.judge(_opened(_signed(6)))
    rotated = _opened(_signed(5, generation=2))  # the same content, signed by the next generation
    IN_FORCE.judge(rotated)
    pinned = IN_FORCE.after(rotated)
    assert (pinned.key_generation, pinned.sequence) == (2, 5) and pinned.key_sha256 != IN_FORCE.key_sha256
    with pytest.raises(BundleRefused, match="retired dealer key \\(generation 1; this terminal has pinned "
                                            "generation 2"):
        pinned.judge(_opened(_signed(99)))
    with pytest.raises(BundleRefused, match="not the one this terminal pinned"):
        pinned.judge(_opened(_signed(6, generation=2, key=OTHER_GEN2)))
    # only ever raised: an older bundle laid over it (the previous one at start-up) lowers nothing
    assert pinned.after(_opened(_signed(3))) == pinned
    # a service before sequences and generations: a certificate naming none is generation 0, no sequence is 0
    assert generation_of([f"{DEALER_URN}acme"]) == 0 and generation_of([f"{GENERATION_URN}7"]) == 7
    assert generation_of([f"{GENERATION_URN}7", f"{GENERATION_URN}8"]) == 0  # ambiguous: trusted least
    legacy = dataclasses.replace(_opened(_signed(1)), payload={"format": FORMAT})
    assert legacy.sequence == 0


def test_the_pin_file_is_0600_atomic_and_an_unreadable_one_trusts_nothing_more(tmp_path):
    trust.save(tmp_path, IN_FORCE)
    assert trust.load(tmp_path) == IN_FORCE
    assert stat.S_IMODE((tmp_path / trust.TRUST).stat().st_mode) == 0o600
    (tmp_path / trust.TRUST).write_text("{not json")
    assert trust.load(tmp_path) == trust.Trust()


def test_install_keeps_no_copy_of_a_secret_the_new_bundle_lacks(tmp_path):
    with_secret = _signed(1, secrets={"main": {"password": "p4ss-word-x"}})
    rotated_secret = _signed(2, secrets={"main": {"password": "other-value"}})
    without = _signed(3)
    config_sync.install(tmp_path, with_secret)
    config_sync.install(tmp_path, rotated_secret)  # the same secret set anew: the previous one is kept
    assert (tmp_path / config_sync.PREVIOUS).read_bytes() == with_secret
    config_sync.install(tmp_path, without)
    assert not (tmp_path / config_sync.PREVIOUS).exists()
    assert (tmp_path / config_sync.CURRENT).read_bytes() == without
    config_sync.install(tmp_path, _signed(4, fee=2))  # nothing deleted: the previous is kept again
    assert (tmp_path / config_sync.PREVIOUS).read_bytes() == without
