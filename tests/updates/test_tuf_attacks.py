"""Every attack TUF names, against real metadata signed by the dealer side's repository and served over real HTTP
on loopback, refused by the terminal's client with a clear reason; and the honest paths (a release, a root
rotation, a resumed download) accepted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from securesystemslib.signer import CryptoSigner
from tuf.api.metadata import Metadata
from tuf.api.serialization.json import JSONSerializer

from kiosk.updates.client import Offer, UpdateClient, UpdateRefused, pin_root
from kiosk.updates.fetch import HttpFetcher
from provisioning.updates.bundle import release_target
from provisioning.updates.repository import Repository, load_signer
from provisioning.updates.service import point_channel
from tests.updates.helpers import RepoServer, fake_bundle


class Setup:
    """A signed repository with root keys offline, a server for it and a terminal that pinned its root."""

    def __init__(self, tmp_path: Path) -> None:
        self.tmp = tmp_path
        self.repo = Repository(tmp_path / "repo")
        self.root_keys = [load_signer(p) for p in self.repo.init(tmp_path / "offline", root_keys=3, threshold=2)]
        self.terminal_dir = tmp_path / "terminal"
        pin_root(self.terminal_dir, self.repo.root_bytes())
        self.fetcher = HttpFetcher()

    def release(self, version: str, channel: str = "stable") -> bytes:
        data = fake_bundle(self.tmp, version)
        self.repo.add_target(release_target(version), data, {"kind": "release", "version": version,
                                                              "channel": channel})
        point_channel(self.repo, channel, version)
        return data

    def client(self, server: RepoServer) -> UpdateClient:
        return UpdateClient(self.terminal_dir, server.url, self.fetcher)

    def offered(self, server: RepoServer) -> tuple[UpdateClient, Offer]:
        """A fresh client's view of the stable channel's release."""
        client = self.client(server)
        client.refresh()
        offer = client.offer(["stable"])
        assert offer is not None
        return client, offer

    def metadata(self, name: str) -> bytes:
        return (self.repo.metadata_dir / name).read_bytes()

    def resign(self, role: str, signers: list[CryptoSigner], **changes: object) -> bytes:
        """The newest `role` metadata changed and signed by the given keys (what an attacker would serve)."""
        md = self.repo.load(role)
        for key, value in changes.items():
            setattr(md.signed, key, value)
        md.signatures.clear()
        for signer in signers:
            md.sign(signer, append=True)
        return md.to_bytes(JSONSerializer(compact=False))


@pytest.fixture
def setup(tmp_path):
    s = Setup(tmp_path)
    yield s
    s.fetcher.close()


def test_a_signed_release_is_offered_downloaded_and_verified(setup):
    data = setup.release("1.1.0")
    with RepoServer(setup.repo.folder) as server:
        client, offer = setup.offered(server)
        assert offer is not None and offer.version == "1.1.0"
        assert client.download(offer.target).read_bytes() == data


def test_tampered_target_is_refused_and_nothing_is_kept(setup):
    data = setup.release("1.1.0")
    with RepoServer(setup.repo.folder) as server:
        client, offer = setup.offered(server)
        digest = offer.target.hashes["sha256"]
        server.replace[f"targets/releases/{digest}.kiosk-1.1.0.tar"] = data[:-1] + bytes([data[-1] ^ 1])
        with pytest.raises(UpdateRefused, match="does not match the signed length and hash"):
            client.download(offer.target)
        assert not list((setup.terminal_dir / "downloads").glob("*kiosk-1.1.0*"))


def test_endless_target_data_stops_at_the_signed_length(setup):
    setup.release("1.1.0")
    with RepoServer(setup.repo.folder) as server:
        client, offer = setup.offered(server)
        server.endless.add(f"targets/releases/{offer.target.hashes['sha256']}.kiosk-1.1.0.tar")
        with pytest.raises(UpdateRefused, match=f"more data than the signed {offer.target.length} bytes"):
            client.download(offer.target)


def test_endless_timestamp_is_refused_at_its_size_limit(setup):
    with RepoServer(setup.repo.folder) as server:
        server.endless.add("metadata/timestamp.json")
        with pytest.raises(UpdateRefused, match="DownloadLengthMismatchError"):
            setup.client(server).refresh()


def test_rollback_to_older_metadata_is_refused(setup):
    setup.release("1.1.0")
    old_timestamp = setup.metadata("timestamp.json")
    setup.release("1.2.0")
    with RepoServer(setup.repo.folder) as server:
        setup.client(server).refresh()  # the terminal has seen the newer timestamp
        server.replace["metadata/timestamp.json"] = old_timestamp
        with pytest.raises(UpdateRefused, match="BadVersionNumberError"):
            setup.client(server).refresh()


def test_channel_pointing_at_an_older_release_is_not_a_downgrade(setup, tmp_path):
    """The repository may honestly point a channel back; the agent still never installs below what runs."""
    from kiosk.updates.agent import check_once
    from kiosk.updates.releases import Releases

    setup.release("1.1.0")
    with RepoServer(setup.repo.folder) as server:
        steps = []
        installed = check_once(Releases(tmp_path / "updates"), setup.client(server),
                               lambda step: steps.append(step) or ["stable"], running="1.2.0")
    assert installed is None and [s["step"] for s in steps] == ["checked"]


def test_freeze_with_an_expired_timestamp_is_refused(setup):
    expired = setup.resign("timestamp", [setup.repo.online_signer("timestamp")],
                           expires=datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=1))
    with RepoServer(setup.repo.folder) as server:
        server.replace["metadata/timestamp.json"] = expired
        with pytest.raises(UpdateRefused, match="ExpiredMetadataError"):
            setup.client(server).refresh()


def test_metadata_signed_with_a_wrong_key_is_refused(setup):
    forged = setup.resign("timestamp", [CryptoSigner.generate_ed25519()])
    with RepoServer(setup.repo.folder) as server:
        server.replace["metadata/timestamp.json"] = forged
        with pytest.raises(UpdateRefused, match="UnsignedMetadataError"):
            setup.client(server).refresh()


def test_a_new_root_below_the_signature_threshold_is_refused(setup):
    md = setup.repo.root()
    md.signed.version += 1
    md.signed.add_key(CryptoSigner.generate_ed25519().public_key, "root")
    md.signatures.clear()
    md.sign(setup.root_keys[0])  # 1 of the 2 required
    with RepoServer(setup.repo.folder) as server:
        server.replace["metadata/2.root.json"] = md.to_bytes(JSONSerializer())
        with pytest.raises(UpdateRefused, match="UnsignedMetadataError"):
            setup.client(server).refresh()


def test_mix_and_match_of_metadata_versions_is_refused(setup):
    setup.release("1.1.0")
    snapshot_v = setup.repo.load("snapshot").signed.version
    older_snapshot = setup.metadata(f"{snapshot_v - 1}.snapshot.json")
    with RepoServer(setup.repo.folder) as server:
        # The current timestamp names snapshot N; an attacker serves snapshot N-1 (validly signed) under N's name.
        server.replace[f"metadata/{snapshot_v}.snapshot.json"] = older_snapshot
        with pytest.raises(UpdateRefused, match="(BadVersionNumberError|LengthOrHashMismatchError)"):
            setup.client(server).refresh()


def test_targets_from_another_snapshot_are_refused(setup):
    setup.release("1.1.0")
    targets_v = setup.repo.load("targets").signed.version
    with RepoServer(setup.repo.folder) as server:
        server.replace[f"metadata/{targets_v}.targets.json"] = setup.metadata(f"{targets_v - 1}.targets.json")
        with pytest.raises(UpdateRefused, match="BadVersionNumberError"):
            setup.client(server).refresh()


def test_root_rotation_is_followed_and_the_revoked_key_no_longer_counts(setup):
    old_timestamp_key = setup.repo.online_signer("timestamp")
    with RepoServer(setup.repo.folder) as server:
        setup.client(server).refresh()
        new_root_key = CryptoSigner.generate_ed25519()
        setup.repo.new_root(setup.root_keys[:2], [new_root_key], revoke=[old_timestamp_key.public_key.keyid])
        setup.release("1.1.0")
        client = setup.client(server)
        client.refresh()  # 1.root → 2.root (signed by 2 old root keys), then the new timestamp key's metadata
        assert json.loads((setup.terminal_dir / "metadata" / "root.json").read_bytes())["signed"]["version"] == 2
        assert client.offer(["stable"]).version == "1.1.0"
        # The revoked timestamp key's signature no longer counts.
        server.replace["metadata/timestamp.json"] = setup.resign("timestamp", [old_timestamp_key],
                                                                 version=setup.repo.load("timestamp").signed.version + 1)
        with pytest.raises(UpdateRefused, match="UnsignedMetadataError"):
            setup.client(server).refresh()


def test_interrupted_download_resumes_from_where_it_stopped(setup):
    data = setup.release("1.1.0")
    with RepoServer(setup.repo.folder) as server:
        client, offer = setup.offered(server)
        path = f"targets/releases/{offer.target.hashes['sha256']}.kiosk-1.1.0.tar"
        server.cut_after[path] = len(data) // 3
        with pytest.raises(UpdateRefused, match="interrupted"):
            client.download(offer.target)
        assert client.download(offer.target).read_bytes() == data
        assert server.requests[-1] == (path, f"bytes={len(data) // 3}-")


def test_dealer_theme_role_signs_only_its_own_paths(setup):
    role = setup.repo.delegate_dealer("acme")
    setup.repo.add_target("themes/acme/night.tar", b"theme bytes", {"kind": "theme"}, role=role)
    setup.repo.add_target("themes/other/night.tar", b"not acme's", {"kind": "theme"}, role=role)
    with RepoServer(setup.repo.folder) as server:
        client = setup.client(server)
        client.refresh()
        assert client.fetch_target("themes/acme/night.tar").read_bytes() == b"theme bytes"
        with pytest.raises(UpdateRefused, match="not a signed target"):
            client._target("themes/other/night.tar")


def test_a_repository_written_twice_signs_increasing_versions(setup):
    before = Metadata.from_bytes(setup.metadata("timestamp.json")).signed.version
    assert setup.repo.refresh(datetime.now(UTC) + timedelta(hours=13)) == ["timestamp"]
    assert Metadata.from_bytes(setup.metadata("timestamp.json")).signed.version == before + 1
