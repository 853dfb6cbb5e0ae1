"""One-time enrollment codes: shown once, stored hashed, single use, expiring, with attempts limited.

A code reads `LLLLL-SSSSS-SSSSS-SSSSS-SSSSS`: the first group finds the row (so wrong guesses are counted
against that code and block it), the other four are a 100-bit secret of which only a SHA-256 is kept."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: people type these from a screen
GROUP, SECRET_GROUPS = 5, 4
MAX_FAILED_ATTEMPTS = 5


class CodeError(Exception):
    """An enrollment code that is malformed, unknown, used, expired or blocked."""


@dataclass(frozen=True)
class NewCode:
    """A freshly made code: the text shown once, and what is stored."""

    text: str
    lookup: str
    secret_hash: str


def _group() -> str:
    return "".join(secrets.choice(ALPHABET) for _ in range(GROUP))


def hash_secret(secret: str) -> str:
    """The stored form of a code's secret part."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_code() -> NewCode:
    """A new random enrollment code."""
    lookup = _group()
    secret = "".join(_group() for _ in range(SECRET_GROUPS))
    text = "-".join([lookup] + [secret[i:i + GROUP] for i in range(0, len(secret), GROUP)])
    return NewCode(text, lookup, hash_secret(secret))


def split_code(text: str) -> tuple[str, str]:
    """(lookup, secret) of a code as typed: case, spaces and dashes do not matter."""
    compact = "".join(ch for ch in text.upper() if ch.isalnum())
    if len(compact) != GROUP * (1 + SECRET_GROUPS) or any(ch not in ALPHABET for ch in compact):
        raise CodeError(f"enrollment code: expected {GROUP * (1 + SECRET_GROUPS)} letters and digits "
                        f"in groups of {GROUP}")
    return compact[:GROUP], compact[GROUP:]


def secret_matches(secret: str, stored_hash: str) -> bool:
    """Constant-time comparison of a typed secret with the stored hash."""
    return hmac.compare_digest(hash_secret(secret), stored_hash)
