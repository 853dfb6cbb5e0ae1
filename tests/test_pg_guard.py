"""The CI guard (tests/pg_guard.py) fails a run whose PostgreSQL tests were skipped, serial and on xdist workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).parent

# a dealer-service module whose PostgreSQL half is skipped (as when the database is unreachable) or passes
MODULE = '''
import os
import pytest

@pytest.mark.parametrize("db", ["sqlite", "postgresql"])
def test_one(db):
    if db == "postgresql" and os.environ.get("PG_SKIP") == "1":
        pytest.skip("PostgreSQL not reachable")
'''


def run(tmp_path: Path, workers: str, pg_skip: bool) -> subprocess.CompletedProcess[str]:
    """pytest over a tiny suite with the guard, as CI runs it; its completed process."""
    (tmp_path / "tests" / "provisioning").mkdir(parents=True, exist_ok=True)
    (tmp_path / "tests" / "conftest.py").write_text("from pg_guard import pytest_runtest_logreport, "
                                                    "pytest_sessionfinish  # noqa: F401\n")
    (tmp_path / "tests" / "provisioning" / "test_db.py").write_text(MODULE)
    (tmp_path / "tests" / "test_other.py").write_text("def test_other():\n    pass\n")
    # only xdist among the installed plugins: each start of pytest (controller, workers) stays short
    env = {**os.environ, "CI": "true", "PG_SKIP": "1" if pg_skip else "0", "PYTHONPATH": str(TESTS),
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "xdist.plugin", "-p", "no:cacheprovider", "-n",
                           workers, "--dist", "loadfile", "-q", "tests"], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("workers", ["0", "2"])
def test_skipped_postgresql_tests_fail_the_run_in_ci(tmp_path, workers):
    done = run(tmp_path, workers, pg_skip=True)
    assert done.returncode == pytest.ExitCode.TESTS_FAILED, done.stdout + done.stderr
    assert "PostgreSQL tests did not run" in done.stdout


def test_passed_postgresql_tests_on_workers_let_the_run_pass(tmp_path):
    done = run(tmp_path, "2", pg_skip=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "PostgreSQL tests did not run" not in done.stdout
