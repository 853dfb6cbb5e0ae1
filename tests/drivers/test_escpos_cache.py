"""python-escpos's parsed printer database in the kiosk's shared cache folder: written whole and renamed into place,
so processes starting together never read a pickle cut short (seen in CI: EOFError on import in a fresh venv)."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
import time
from pathlib import Path

IMPORT = "import kiosk.drivers.escpos_render as r; from escpos import capabilities as c; print(len(c.CAPABILITIES))"


def _start(cache: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "ESCPOS_CAPABILITIES_PICKLE_DIR": str(cache)}
    return subprocess.Popen([sys.executable, "-c", IMPORT], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def _pickle(cache: Path) -> Path:
    (found,) = cache.glob("*.capabilities.pickle")
    return found


def test_processes_starting_together_on_a_stale_cache_all_load_the_whole_database(tmp_path):
    cache = tmp_path / "escpos"
    cache.mkdir()
    first = _start(cache)
    out, err = first.communicate(timeout=120)
    assert first.returncode == 0, err
    whole = pickle.loads(_pickle(cache).read_bytes())  # noqa: S301 - written by the test's own child
    assert int(out) == len(whole) > 0
    # an older escpos writer left it cut short and older than its source: every starter must still load it whole
    _pickle(cache).write_bytes(_pickle(cache).read_bytes()[:100])
    os.utime(_pickle(cache), (0, 0))
    starters = [_start(cache) for _ in range(6)]
    for process in starters:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
        assert int(out) == len(whole)
    assert pickle.loads(_pickle(cache).read_bytes()) == whole  # noqa: S301
    assert not list(cache.glob(".*.tmp"))  # no partial file left behind


def test_a_damaged_cache_newer_than_its_source_is_written_again(tmp_path):
    cache = tmp_path / "escpos"
    cache.mkdir()
    process = _start(cache)
    assert process.communicate(timeout=120) and process.returncode == 0
    _pickle(cache).write_bytes(b"\x80\x02cut")
    future = time.time() + 3600
    os.utime(_pickle(cache), (future, future))
    again = _start(cache)
    out, err = again.communicate(timeout=120)
    assert again.returncode == 0, err
    assert int(out) > 0
