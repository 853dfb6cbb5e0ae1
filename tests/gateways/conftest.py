"""Shared fixtures: a guard against leaked threads."""

from __future__ import annotations

import threading
import time

import pytest


@pytest.fixture(autouse=True, scope="module")
def no_leaked_threads():
    """Fail a module that leaves threads (servers, pools) running."""
    before = set(threading.enumerate())
    yield
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        extra = [t for t in threading.enumerate() if t not in before and t.is_alive()]
        if not extra:
            return
        time.sleep(0.02)
    pytest.fail(f"threads left running: {extra}")
