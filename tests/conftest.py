"""Shared fixtures: terminals on temporary files, leak checks."""

from __future__ import annotations

import threading

import pytest
from pg_guard import pytest_runtest_logreport, pytest_sessionfinish  # noqa: F401 - hooks: CI fails without PostgreSQL

from kiosk.app import Terminal
from kiosk.clock import ManualClock
from kiosk.config import load_config
from kiosk.emulators.payer_process import write_config


@pytest.fixture(autouse=True)
def no_thread_leaks():
    """Fail a test that leaves threads running behind it."""
    before = {t.ident for t in threading.enumerate()}
    yield
    for _ in range(50):
        extra = [t for t in threading.enumerate() if t.ident not in before and t.is_alive()]
        if not extra:
            return
        threading.Event().wait(0.05)
    raise AssertionError(f"threads left running: {[t.name for t in extra]}")


@pytest.fixture
def config_path(tmp_path):
    """A terminal configuration with every file in tmp_path and well-behaved gateways."""
    return write_config(tmp_path, gateway_mode="ok")


@pytest.fixture
def config(config_path):
    """The loaded configuration."""
    return load_config(config_path)


@pytest.fixture
def clock(config):
    """A manual clock in the terminal's zone."""
    return ManualClock(config.timezone)


@pytest.fixture
def terminal(config, clock):
    """A started terminal with synchronous checks and no background delivery."""
    term = Terminal(config, clock=clock, background_checks=False)
    term.start(background_outbox=False)
    yield term
    term.close()


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """The suite runs in random order (pytest-randomly): after a failure, say how to replay the same order."""
    seed = getattr(config.option, "randomly_seed", None)
    if exitstatus not in (0, 5) and isinstance(seed, int):
        terminalreporter.write_line(f"tests ran in random order; the same order again: --randomly-seed={seed}")



@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config, items):
    """On xdist workers, files with slow tests are handed out first (in their random order), fast ones after.

    Whole files go to a worker as they come: a two-minute file drawn last would leave the other worker idle."""
    if not hasattr(config, "workerinput"):
        return
    slow_files = {item.path for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.path not in slow_files)  # stable: the random order holds within each part
