"""An update with the real wheel set, measured: bundle size, signing, TUF refresh and download over loopback HTTP,
side-by-side install (pip --no-index into a new environment), the switch of the `current` link, the new release's
cold start, and a rollback.

    ./dev bench update_switch [--wheels DIR]   (DIR: the kiosk wheel and its dependency wheels; default: built
                                                 now with `pip wheel .`, which needs the package index)
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from kiosk.offline_queue.files import write_atomically
from kiosk.updates.client import UpdateClient, pin_root
from kiosk.updates.fetch import HttpFetcher
from kiosk.updates.releases import MARKER, Releases
from provisioning.updates.bundle import build_bundle, release_target
from provisioning.updates.repository import Repository
from provisioning.updates.service import point_channel

ROOT = Path(__file__).resolve().parent.parent


def _timed(what: str, results: dict[str, float], work):  # type: ignore[no-untyped-def]
    started = time.perf_counter()
    value = work()
    results[what] = time.perf_counter() - started
    return value


def _wheels(folder: Path | None, scratch: Path) -> list[Path]:
    if folder is None:
        folder = scratch / "wheels"
        print("building the kiosk wheel and its dependency wheels (pip wheel .) …", flush=True)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "-w", str(folder), str(ROOT)], check=True)
    return sorted(folder.glob("*.whl"))


def restart_to_ready(scratch: Path) -> tuple[float, float]:
    """Seconds to stop a running kiosk (SIGTERM) and to start one to its READY=1 (the demo on SDL's dummy driver,
    in-process emulators, its dealer service included): what systemd's restart onto a new release costs."""
    notify = scratch / "notify"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(notify))
        sock.settimeout(120)
        env = {**os.environ, "NOTIFY_SOCKET": str(notify), "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy",
               "XDG_STATE_HOME": str(scratch / "state")}
        started = time.perf_counter()
        process = subprocess.Popen([str(Path(sys.prefix) / "bin" / "kiosk"), "demo", "--in-process"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert sock.recv(100) == b"READY=1"
        ready = time.perf_counter() - started
    started = time.perf_counter()
    process.send_signal(signal.SIGTERM)
    process.wait(60)
    return time.perf_counter() - started, ready


def main() -> int:
    """Run the measurement once and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--wheels", type=Path, default=None)
    args = parser.parse_args()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        wheels = _wheels(args.wheels, scratch)
        kiosk_wheel = next(w for w in wheels if w.name.startswith("kiosk-"))
        version = kiosk_wheel.name.split("-")[1]
        repo = Repository(scratch / "repo")
        repo.init(scratch / "offline", 2, 1)
        bundle = _timed("bundle (pip resolves alone)", results,
                        lambda: build_bundle(wheels, version, check=True))
        _timed("sign into targets, snapshot, timestamp", results, lambda: (
            repo.add_target(release_target(version), bundle, {"kind": "release", "version": version,
                                                             "channel": "stable"}),
            point_channel(repo, "stable", version)))

        handler = functools.partial(_QuietHandler, directory=str(repo.folder))
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        terminal = scratch / "terminal"
        pin_root(terminal, repo.root_bytes())
        fetcher = HttpFetcher()
        client = UpdateClient(terminal, f"http://127.0.0.1:{httpd.server_address[1]}", fetcher)
        offer = _timed("TUF refresh + channel pointer", results, lambda: (client.refresh(), client.offer(["stable"]))[1])
        assert offer is not None
        path = _timed("download + verify (loopback HTTP)", results, lambda: client.download(offer.target))
        httpd.shutdown()
        fetcher.close()

        releases = Releases(scratch / "updates")
        previous = releases.releases / "previous"  # the running release: this environment, marked complete
        previous.mkdir(parents=True)
        os.symlink(sys.prefix, previous / "venv")
        write_atomically(previous / MARKER, json.dumps({"version": "previous"}).encode())
        releases._point_current("previous")
        _timed("install side by side (venv + pip --no-index)", results, lambda: releases.install(path, version))
        installed = sum(f.stat().st_size for f in (releases.releases / version).rglob("*") if f.is_file()
                        and not f.is_symlink())
        impatient = Releases(releases.root, deadline_s=0.0)  # its health deadline passes at once: for the rollback
        _timed("switch (state + atomic link rename, synced)", results, lambda: impatient.switch(version))
        _timed("new release cold start (kiosk --version)", results, lambda: subprocess.run(
            [str(releases.current_link / "venv" / "bin" / "kiosk"), "--version"], check=True, capture_output=True))
        _timed("roll back (link back, state, failed release removed)", results,
               lambda: impatient.guard(starting=True))
        assert releases.current() == "previous"
        stop, ready = restart_to_ready(scratch)
        results["kiosk stop (SIGTERM)"], results["kiosk start to READY=1 (demo, dummy video)"] = stop, ready

    load = os.getloadavg()
    print(f"update of kiosk {version}: bundle {len(bundle):,} bytes ({len(bundle) / 2**20:.1f} MiB) of "
          f"{len(wheels)} wheels; machine load average {load[0]:.1f} / {load[1]:.1f} on {os.cpu_count()} cores")
    print(f"  installed release: {installed / 2**20:.0f} MiB on disk")
    for what, seconds in results.items():
        print(f"  {what:<55} {seconds * 1000:10.1f} ms")
    print(f"  download rate: {len(bundle) / results['download + verify (loopback HTTP)'] / 2**20:.0f} MiB/s")
    return 0


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


if __name__ == "__main__":
    sys.exit(main())
