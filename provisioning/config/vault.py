"""Secrets at rest: Fernet (AES-128-CBC + HMAC-SHA256) under a key kept in the service's state folder (0600).

Every server process against one database must hold the same key file, as it holds the same CA: copy
`secrets.key` with the `ca/` folder when adding a host. A database dump alone reveals no gateway secret."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

KEY_FILE = "secrets.key"


class VaultError(Exception):
    """A secret that cannot be opened (another service's key, a damaged row)."""


class Vault:
    """Seals and opens secrets with the service's key."""

    def __init__(self, key: bytes) -> None:
        self._fernet = Fernet(key)

    def seal(self, plaintext: str) -> bytes:
        """The secret, encrypted and authenticated."""
        return self._fernet.encrypt(plaintext.encode())

    def open(self, ciphertext: bytes) -> str:
        """The secret back; VaultError when it was sealed under another key or changed."""
        try:
            return self._fernet.decrypt(ciphertext).decode()
        except InvalidToken:
            raise VaultError("a sealed secret does not open with this service's secrets.key") from None


def _key(state_dir: Path) -> bytes:
    path = state_dir / KEY_FILE
    if not path.exists():
        # Created once, even when several server processes start together: the first link wins, the rest read it.
        tmp = state_dir / f".{KEY_FILE}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, Fernet.generate_key())
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_bytes().strip()


@functools.lru_cache(maxsize=8)
def vault_of(state_dir: Path) -> Vault:
    """The vault of a state folder (its key made on first use)."""
    return Vault(_key(state_dir))
