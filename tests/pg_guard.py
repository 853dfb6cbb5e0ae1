"""With CI=true, a run that reached the dealer service's PostgreSQL tests but passed none of them fails.

Hooks of the root conftest: under pytest-xdist only it is loaded on the controller, where every worker's reports
meet; each worker sees only its share of the files, so the check runs on the controller (or in a serial run)."""

from __future__ import annotations

import os

import pytest

# nodeids of the PostgreSQL-parametrized dealer-service tests reported at all, and of those that passed
_reported: set[str] = set()
_passed: set[str] = set()


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Note the dealer service's PostgreSQL tests that were reported, and those that really ran and passed."""
    if report.nodeid.startswith("tests/provisioning/") and "[postgresql" in report.nodeid:
        _reported.add(report.nodeid)
        if report.when == "call" and report.passed:
            _passed.add(report.nodeid)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """In CI, a dealer-service run without PostgreSQL tests is a failure, not a quiet skip."""
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller decides over all reports
        return
    if os.environ.get("CI", "").lower() == "true" and _reported and not _passed:
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
        url = os.environ.get("KIOSK_DEALER_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
        print(f"\nCI: the dealer service's PostgreSQL tests did not run (is PostgreSQL at {url} up?)")
