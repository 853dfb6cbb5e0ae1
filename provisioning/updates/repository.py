"""The service's TUF repository (python-tuf Metadata API): root keys kept offline by the dealer, online targets,
snapshot and timestamp keys, consistent snapshots, a delegated role per dealer for theme packs.

Layout of the folder: `metadata/` (served: `N.root.json`, `N.targets.json`, `N.snapshot.json`, `N.<role>.json`,
`timestamp.json`), `targets/` (served: `<dir>/<sha256>.<name>`), `keys/` (online private keys, 0600, never
served). Every write is atomic; a lock file serializes writers (the CLI and the periodic refresh)."""

from __future__ import annotations

import fcntl
import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from securesystemslib.signer import CryptoSigner, Signer
from tuf.api.metadata import (
    DelegatedRole,
    Delegations,
    Metadata,
    MetaFile,
    Root,
    Snapshot,
    TargetFile,
    Targets,
    Timestamp,
)
from tuf.api.serialization.json import JSONSerializer

from kiosk.dealer_link.identity import write_private

ONLINE_ROLES = ("targets", "snapshot", "timestamp")
# How long each role's signature holds: a network attacker can freeze a terminal on old metadata at most this long.
EXPIRY = {"root": timedelta(days=365), "targets": timedelta(days=365), "snapshot": timedelta(days=7),
          "timestamp": timedelta(days=1)}
DELEGATED_EXPIRY = timedelta(days=365)
# The periodic job re-signs a role when less than this share of its lifetime is left.
REFRESH_WHEN_LEFT = 0.5


class RepositoryError(Exception):
    """A repository operation that cannot be carried out, with the reason."""


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def load_signer(path: Path) -> CryptoSigner:
    """A private key file (PEM, unencrypted, written by this module) as a signer."""
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), None)
    except (OSError, ValueError) as exc:
        raise RepositoryError(f"{path}: not a readable private key: {exc}") from exc
    return CryptoSigner(key)


def save_signer(path: Path, signer: CryptoSigner) -> None:
    """Write a private key 0600, atomically."""
    write_private(path, signer.private_bytes)


def role_file(role: str, version: int) -> str:
    """The consistent-snapshot file name of a role's metadata (the timestamp has none)."""
    return "timestamp.json" if role == "timestamp" else f"{version}.{role}.json"


def dealer_role(slug: str) -> str:
    """The delegated role that signs one dealer's theme packs."""
    return f"dealer-{slug}"


class Repository:
    """One TUF repository in a folder; every method that changes it signs and writes new metadata atomically."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.metadata_dir = folder / "metadata"
        self.targets_dir = folder / "targets"
        self.keys_dir = folder / "keys"

    def exists(self) -> bool:
        """Whether `updates init` ran here."""
        return (self.metadata_dir / "timestamp.json").exists()

    @contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the writers' lock (one change at a time across processes on this host)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / ".lock", "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    # -- reading ---------------------------------------------------------------------------------------------------

    def _latest_version(self, role: str) -> int:
        versions = [int(p.name.split(".", 1)[0]) for p in self.metadata_dir.glob(f"*.{role}.json")
                    if p.name.split(".", 1)[0].isdigit()]
        if not versions:
            raise RepositoryError(f"{self.metadata_dir}: no {role} metadata; run `kiosk-dealer updates init`")
        return max(versions)

    def load(self, role: str) -> Metadata[Any]:
        """The newest metadata of a role."""
        path = self.metadata_dir / role_file(role, 0 if role == "timestamp" else self._latest_version(role))
        return Metadata.from_bytes(path.read_bytes())

    def root(self) -> Metadata[Root]:
        """The newest root."""
        return self.load("root")

    def root_bytes(self) -> bytes:
        """The newest root as served (what a terminal pins at enrollment)."""
        return (self.metadata_dir / role_file("root", self._latest_version("root"))).read_bytes()

    def online_signer(self, role: str) -> CryptoSigner:
        """The online key of a role (targets, snapshot, timestamp, dealer-<slug>)."""
        return load_signer(self.keys_dir / f"{role}.pem")

    def serve_path(self, relative: str) -> Path | None:
        """The file for a requested `metadata/...` or `targets/...` path, or None (never outside the folder)."""
        if relative.startswith("/") or ".." in relative.split("/") or not relative.startswith(("metadata/",
                                                                                              "targets/")):
            return None
        path = self.folder / relative
        return path if path.is_file() else None

    # -- writing ---------------------------------------------------------------------------------------------------

    def _write(self, role: str, md: Metadata[Any]) -> None:
        data = md.to_bytes(JSONSerializer(compact=False))
        write_private(self.metadata_dir / role_file(role, md.signed.version), data, 0o644)

    def _sign(self, md: Metadata[Any], signers: list[Signer]) -> None:
        md.signatures.clear()
        for signer in signers:
            md.sign(signer, append=True)

    def init(self, root_key_dir: Path, root_keys: int = 2, threshold: int = 1) -> list[Path]:
        """Create keys and the first metadata; root keys go to files in root_key_dir (for the dealer to move
        offline). Returns the root key files written."""
        if self.exists():
            raise RepositoryError(f"{self.folder} has a TUF repository already")
        if not 1 <= threshold <= root_keys:
            raise RepositoryError(f"root threshold {threshold} must be between 1 and the number of keys {root_keys}")
        now = _now()
        root = Root(expires=now + EXPIRY["root"], consistent_snapshot=True)
        root_signers = [CryptoSigner.generate_ed25519() for _ in range(root_keys)]
        written = []
        for signer in root_signers:
            root.add_key(signer.public_key, "root")
            path = root_key_dir / f"root-{signer.public_key.keyid[:12]}.pem"
            save_signer(path, signer)
            written.append(path)
        root.roles["root"].threshold = threshold
        for role in ONLINE_ROLES:
            signer = CryptoSigner.generate_ed25519()
            root.add_key(signer.public_key, role)
            save_signer(self.keys_dir / f"{role}.pem", signer)
        with self.locked():
            root_md = Metadata(root)
            self._sign(root_md, list(root_signers))
            self._write("root", root_md)
            targets = Metadata(Targets(expires=now + EXPIRY["targets"]))
            targets.signed.delegations = Delegations(keys={}, roles={})
            self._sign(targets, [self.online_signer("targets")])
            self._write("targets", targets)
            self._publish(now, {"targets.json": 1})
        return written

    def _publish(self, now: datetime, changed: dict[str, int] | None = None) -> None:
        """A new snapshot (with the given roles' new versions) and a new timestamp pointing at it."""
        try:
            old = self.load("snapshot")
            snapshot = old.signed
            snapshot.version += 1
        except RepositoryError:
            snapshot = Snapshot(expires=now + EXPIRY["snapshot"])
        for name, version in (changed or {}).items():
            snapshot.meta[name] = MetaFile(version=version)
        snapshot.expires = now + EXPIRY["snapshot"]
        snapshot_md = Metadata(snapshot)
        self._sign(snapshot_md, [self.online_signer("snapshot")])
        self._write("snapshot", snapshot_md)
        self._timestamp(now, snapshot.version)

    def _timestamp(self, now: datetime, snapshot_version: int) -> None:
        try:
            timestamp = self.load("timestamp").signed
            timestamp.version += 1
        except FileNotFoundError:
            timestamp = Timestamp(expires=now + EXPIRY["timestamp"])
        timestamp.snapshot_meta = MetaFile(version=snapshot_version)
        timestamp.expires = now + EXPIRY["timestamp"]
        md = Metadata(timestamp)
        self._sign(md, [self.online_signer("timestamp")])
        self._write("timestamp", md)

    def add_target(self, target_path: str, data: bytes, custom: dict[str, Any] | None = None,
                   role: str = "targets") -> TargetFile:
        """Store a target under its hash-prefixed name and sign it into `role` (targets or a dealer's role)."""
        info = TargetFile.from_data(target_path, data, ["sha256"])
        if custom:
            info.unrecognized_fields["custom"] = custom
        folder, _, name = target_path.rpartition("/")
        digest = hashlib.sha256(data).hexdigest()
        write_private(self.targets_dir / folder / f"{digest}.{name}", data, 0o644)
        now = _now()
        with self.locked():
            md = self.load(role)
            md.signed.targets[target_path] = info
            md.signed.version += 1
            md.signed.expires = now + (EXPIRY["targets"] if role == "targets" else DELEGATED_EXPIRY)
            self._sign(md, [self.online_signer(role)])
            self._write(role, md)
            self._publish(now, {f"{role}.json": md.signed.version})
        return info

    def target_data(self, target_path: str, role: str = "targets") -> bytes | None:
        """The bytes of a signed target (None when the role does not list it)."""
        info = self.load(role).signed.targets.get(target_path)
        if info is None:
            return None
        folder, _, name = target_path.rpartition("/")
        return (self.targets_dir / folder / f"{info.hashes['sha256']}.{name}").read_bytes()

    def delegate_dealer(self, slug: str) -> str:
        """A delegated role for a dealer's theme packs (paths `themes/<slug>/*`), with its own online key."""
        role = dealer_role(slug)
        now = _now()
        with self.locked():
            targets = self.load("targets")
            delegations = targets.signed.delegations or Delegations(keys={}, roles={})
            if delegations.roles and role in delegations.roles:
                return role
            signer = CryptoSigner.generate_ed25519()
            save_signer(self.keys_dir / f"{role}.pem", signer)
            delegations.keys[signer.public_key.keyid] = signer.public_key
            assert delegations.roles is not None
            delegations.roles[role] = DelegatedRole(role, [signer.public_key.keyid], 1, True,
                                                    paths=[f"themes/{slug}/*"])
            targets.signed.delegations = delegations
            targets.signed.version += 1
            self._sign(targets, [self.online_signer("targets")])
            self._write("targets", targets)
            delegated = Metadata(Targets(expires=now + DELEGATED_EXPIRY))
            self._sign(delegated, [signer])
            self._write(role, delegated)
            self._publish(now, {"targets.json": targets.signed.version, f"{role}.json": 1})
        return role

    def refresh(self, now: datetime | None = None) -> list[str]:
        """Re-sign snapshot and timestamp before they expire (the periodic job); returns the roles re-signed."""
        now = now or _now()
        with self.locked():
            if not self.exists():
                return []
            snapshot = self.load("snapshot").signed
            if snapshot.expires - now < EXPIRY["snapshot"] * REFRESH_WHEN_LEFT:
                self._publish(now)
                return ["snapshot", "timestamp"]
            timestamp = self.load("timestamp").signed
            if timestamp.expires - now < EXPIRY["timestamp"] * REFRESH_WHEN_LEFT:
                self._timestamp(now, snapshot.version)
                return ["timestamp"]
        return []

    def new_root(self, old_signers: list[Signer], new_signers: list[Signer] | None = None,
                 threshold: int | None = None, revoke: list[str] | None = None) -> Metadata[Root]:
        """A new root version signed by the old root keys (threshold of the old root) and the new ones: key
        rotation of root itself, of an online role (its key in `revoke` is replaced), or a new threshold."""
        now = _now()
        with self.locked():
            current = self.root()
            root = current.signed
            old_ids = set(root.roles["root"].keyids)
            given = {s.public_key.keyid for s in old_signers}
            if len(given & old_ids) < root.roles["root"].threshold:
                raise RepositoryError(f"rotating root needs {root.roles['root'].threshold} of the current root "
                                      f"keys; {len(given & old_ids)} given")
            replaced_online = []
            for keyid in revoke or []:
                roles = [name for name, role in root.roles.items() if keyid in role.keyids]
                if not roles:
                    raise RepositoryError(f"key {keyid} is not in the root")
                for name in roles:
                    root.revoke_key(keyid, name)
                    if name in ONLINE_ROLES:
                        replaced_online.append(name)
            if new_signers:
                for signer in new_signers:
                    root.add_key(signer.public_key, "root")
            for name in replaced_online:
                signer = CryptoSigner.generate_ed25519()
                root.add_key(signer.public_key, name)
                save_signer(self.keys_dir / f"{name}.pem", signer)
            if threshold is not None:
                root.roles["root"].threshold = threshold
            if len(root.roles["root"].keyids) < root.roles["root"].threshold:
                raise RepositoryError("the new root would have fewer root keys than its threshold")
            root.version += 1
            root.expires = now + EXPIRY["root"]
            md = Metadata(root)
            keep = set(root.roles["root"].keyids)
            signers = [s for s in old_signers if s.public_key.keyid in old_ids] + [
                s for s in (new_signers or []) if s.public_key.keyid in keep]
            unique = {s.public_key.keyid: s for s in signers}  # a key both old and kept signs once
            self._sign(md, list(unique.values()))
            self._write("root", md)
            # Roles whose key changed are re-signed with the new key, so terminals can verify them.
            if "targets" in replaced_online:
                targets = self.load("targets")
                targets.signed.version += 1
                self._sign(targets, [self.online_signer("targets")])
                self._write("targets", targets)
                self._publish(now, {"targets.json": targets.signed.version})
            elif replaced_online:
                self._publish(now)
        return md


def describe(repo: Repository) -> dict[str, Any]:
    """Versions, expiry and keys of each top-level role (for `updates status`)."""
    out: dict[str, Any] = {}
    root = repo.root().signed
    for role in ("root", *ONLINE_ROLES):
        signed = root if role == "root" else repo.load(role).signed
        out[role] = {"version": signed.version, "expires": signed.expires.isoformat(),
                     "keys": list(root.roles[role].keyids), "threshold": root.roles[role].threshold}
    return out


def dumps(data: Any) -> str:
    """JSON for people."""
    return json.dumps(data, indent=2, sort_keys=True)
