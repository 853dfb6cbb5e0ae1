"""The UI's figures measured the way a terminal sees them: under a real X server (Xvfb), at 1920x1080.

The kiosk runs in its own process as a real X client (SDL's x11 driver, full screen, its real loop, a real
demo Terminal with its outbox and housekeeping threads). This process is the person and the camera: it
presses through the X server's XTest extension and watches the server's framebuffer for the pixel that
changes. What each figure includes is printed beside it.

    .venv/bin/python bench/ui_xvfb.py [--presses 200] [--idle-seconds 10] [--starts 5]

Needs Xvfb (apt-get install xvfb). Targets: touch → pressed pixel p95 < 50 ms, idle CPU < 3 % of a core,
cold start < 2 s, peak RSS < 150 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))

from ui_x11 import XClient, xvfb  # noqa: E402

SIZE = (1920, 1080)
TOUCH_P95_MS, IDLE_CPU, COLD_START_S, RSS_MB = 50.0, 3.0, 2.0, 150.0
#: the kiosk side: a full-screen KioskUI on the display; 'touch' waits on the categories screen
CHILD = r"""
import json, os, sys, tempfile, threading, time
sys.path.insert(0, {bench!r})
from pathlib import Path
from ui_common import real_terminal
from kiosk.screens.ui import KioskUI
mode = {mode!r}
with tempfile.TemporaryDirectory() as temp, real_terminal(Path(temp), timeouts=3600) as terminal:
    ui = KioskUI(terminal, fullscreen=True)
    if mode == "touch":
        ui.act("start")
        rect = ui.targets()["category:mobile"]
        print(json.dumps({{"target": list(rect), "size": list(ui.size)}}), flush=True)
    threading.Thread(target=lambda: (sys.stdin.read(), setattr(ui, "exit_code", 0)), daemon=True).start()
    ui.run()
hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM")][0].split()[1]
print(json.dumps({{"peak_rss_kb": int(hwm)}}), flush=True)
"""


def spawn(display: str, mode: str) -> subprocess.Popen[str]:
    """The kiosk process on the display."""
    env = {**os.environ, "DISPLAY": display, "SDL_VIDEODRIVER": "x11", "SDL_AUDIODRIVER": "dummy",
           "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.Popen([sys.executable, "-c", CHILD.format(bench=str(BENCH), mode=mode)], cwd=ROOT, env=env,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)


def stop(child: subprocess.Popen[str]) -> dict:
    """Ask the kiosk to quit (stdin closed) and read its last report."""
    assert child.stdin is not None and child.stdout is not None
    child.stdin.close()
    out = child.stdout.read()
    child.wait(timeout=30)
    lines = [line for line in out.splitlines() if line.startswith("{")]
    return json.loads(lines[-1]) if lines else {}


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and all its threads so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cold_starts(x: XClient, display: str, runs: int, cpu: list[float]) -> list[float]:
    """Seconds from `kiosk demo --in-process --fullscreen` being spawned to the server showing its first frame.

    The command a person runs: the CLI, every import, the journal, the terminal start (reconciliation, the
    virtual validator and gateways, a loopback ESC/POS printer), the UI and its first frame on the display.
    """
    times = []
    probe = (SIZE[0] // 2, 4)  # the header's panel: not black once the attract screen is up
    env = {**os.environ, "DISPLAY": display, "SDL_VIDEODRIVER": "x11", "SDL_AUDIODRIVER": "dummy"}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as state:
            start = time.perf_counter()
            child = subprocess.Popen([sys.executable, "-m", "kiosk.cli", "demo", "--in-process", "--fullscreen",
                                      "--state-dir", state], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
            seen = x.wait_pixel(*probe, changed_from=0x000000, timeout=30)
            cpu.append(cpu_seconds(child.pid))
            child.send_signal(signal.SIGTERM)
            child.wait(timeout=30)
        if seen is not None:
            times.append(seen - start)
        x.wait_pixel(*probe, changed_from=x.pixel(*probe), timeout=5)  # the root is black again
    return times


def idle_cpu(x: XClient, display: str, seconds: float) -> tuple[float, int]:
    """Share of one core the kiosk uses on the attract screen, and its peak RSS in kB."""
    child = spawn(display, "idle")
    x.wait_pixel(SIZE[0] // 2, 4, changed_from=0x000000, timeout=30)
    time.sleep(2.0)  # past start-up work (first printer status, first outbox pass)
    before, wall = cpu_seconds(child.pid), time.perf_counter()
    time.sleep(seconds)
    used, wall = cpu_seconds(child.pid) - before, time.perf_counter() - wall
    report = stop(child)
    return 100 * used / wall, int(report.get("peak_rss_kb", 0))


def touches(x: XClient, display: str, presses: int) -> tuple[list[float], int]:
    """Milliseconds from an XTest button press on a tile to the server showing the tile pressed."""
    child = spawn(display, "touch")
    assert child.stdout is not None
    info = json.loads(child.stdout.readline())
    tx, ty, tw, th = info["target"]
    probe = (tx + tw // 10 + 12, ty + th // 10 + 12)  # inside the face, clear of the border, icon and label
    idle = x.wait_pixel(*probe, changed_from=0x000000, timeout=30)
    assert idle is not None, "the categories screen never showed"
    time.sleep(1.0)
    baseline = x.pixel(*probe)
    delays = []
    for _ in range(presses):
        x.move(tx + tw // 2, ty + th // 2)
        time.sleep(0.05)
        start = time.perf_counter()
        x.button(True)
        seen = x.wait_pixel(*probe, changed_from=baseline, timeout=2.0)
        if seen is not None:
            delays.append((seen - start) * 1000)
        x.move(2, SIZE[1] // 2)  # slide off the tile and lift: the press is taken back, nothing activates
        x.button(False)
        back = time.perf_counter()
        while x.pixel(*probe) != baseline and time.perf_counter() - back < 2.0:
            time.sleep(0.002)
        time.sleep(0.16)  # past the 150 ms bounce filter
    report = stop(child)
    return delays, int(report.get("peak_rss_kb", 0))


def main() -> int:
    """Measure and print."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--presses", type=int, default=200)
    parser.add_argument("--idle-seconds", type=float, default=10.0)
    parser.add_argument("--starts", type=int, default=5)
    args = parser.parse_args()
    ok = True
    load = os.getloadavg()[0]
    with xvfb(*SIZE) as display:
        x = XClient(display)
        try:
            print(f"Xvfb {display} at {SIZE[0]}x{SIZE[1]}x24, SDL x11 driver, kiosk full screen in its own process; "
                  f"{os.cpu_count()} cores, load average {load:.1f} when started")
            cpu: list[float] = []
            starts = cold_starts(x, display, args.starts, cpu)
            ok &= bool(starts) and max(starts) < COLD_START_S
            print(f"cold start (`kiosk demo --in-process --fullscreen` spawned → CLI, imports, journal, terminal "
                  f"start, UI, first frame in the X framebuffer), {len(starts)} runs: median {statistics.median(starts):.2f} s, "
                  f"max {max(starts):.2f} s (target < {COLD_START_S} s); CPU the process used by then: median "
                  f"{statistics.median(cpu):.2f} s (what the wall time would be on an idle core)")
            share, idle_rss = idle_cpu(x, display, args.idle_seconds)
            ok &= share < IDLE_CPU
            print(f"idle CPU on the attract screen over {args.idle_seconds:.0f} s (UI loop, outbox and housekeeping "
                  f"threads, X client work; not the X server's): {share:.2f} % of one core (target < {IDLE_CPU} %)")
            delays, touch_rss = touches(x, display, args.presses)
            delays.sort()
            p95 = delays[min(len(delays) - 1, int(len(delays) * 0.95))]
            ok &= p95 < TOUCH_P95_MS and len(delays) == args.presses
            print(f"touch → pressed pixel (XTest press into the X server → SDL → TouchInput → widgets → draw → flip "
                  f"→ pixel read back from the server), {len(delays)} of {args.presses} presses: "
                  f"p50 {statistics.median(delays):.1f} ms, p95 {p95:.1f} ms, max {delays[-1]:.1f} ms "
                  f"(target p95 < {TOUCH_P95_MS} ms)")
            rss = max(idle_rss, touch_rss) / 1024
            ok &= rss < RSS_MB
            print(f"peak RSS of the kiosk process (VmHWM, whole process with X buffers) after the idle and touch "
                  f"runs: {rss:.1f} MB (target < {RSS_MB} MB); for every screen in every theme run ./dev bench "
                  f"ui_memory with DISPLAY set and SDL_VIDEODRIVER=x11")
        finally:
            x.close()
    print("all targets met" if ok else "SOME TARGETS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
