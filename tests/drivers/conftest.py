"""Fixtures for the bill validator tests (named, not autouse, so other driver tests are unaffected)."""

from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from validator_support import FAST, Events, check_leaks, fds


@pytest.fixture
def no_leaks():
    """Fail a test that leaves threads or file descriptors behind."""
    threads_before, fds_before = set(threading.enumerate()), fds()
    yield
    check_leaks(threads_before, fds_before)


@pytest.fixture
def scratch():
    """A temporary directory removed afterwards (pytest's tmp_path keeps old runs around)."""
    path = Path(tempfile.mkdtemp(prefix="kiosk-validator-test-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def events(no_leaks) -> Events:
    """Collects a driver's events."""
    return Events()


@pytest.fixture
def make_pair(events):
    """Start an emulator and a driver on its pty; both are stopped after the test."""
    started = []

    def make(emulator, driver_cls, start_driver: bool = True, **options):
        emulator.start()
        started.append(emulator)
        driver = driver_cls(events, emulator.path, **{**FAST, **options})
        started.append(driver)
        if start_driver:
            driver.start()
        return emulator, driver

    yield make
    for thing in reversed(started):
        thing.stop()
