"""Shared for the dealer-link tests: waiting for what the heartbeat thread does."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest


def _wait(predicate: Callable[[], object], seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def wait() -> Callable[..., bool]:
    """wait(predicate, seconds=30): True once predicate() holds, False when the time ran out."""
    return _wait
