"""An X server for the UI benchmarks: Xvfb on a free display, input through XTest, pixels read back from it.

Used by ui_xvfb.py: the kiosk runs as a real X client (SDL's x11 driver), presses go in through the X
server's XTest extension (the same path a touchscreen's events take through the server), and a frame counts
as shown when the server's framebuffer holds its pixels. libX11 and libXtst are called through ctypes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager

ALL_PLANES = ctypes.c_ulong(0xFFFFFFFF)
Z_PIXMAP = 2


@contextmanager
def xvfb(width: int, height: int) -> Iterator[str]:
    """Xvfb on the first free display number (it picks one and tells us), black root; yields ':N'."""
    if shutil.which("Xvfb") is None:
        raise SystemExit("Xvfb is not installed (apt-get install xvfb)")
    read, write = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write), "-screen", "0", f"{width}x{height}x24", "-br",
                               "-nolisten", "tcp", "-noreset"], pass_fds=(write,), stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    os.close(write)
    try:
        with os.fdopen(read) as pipe:
            number = pipe.readline().strip()
        if not number:
            raise SystemExit("Xvfb did not start")
        yield f":{number}"
    finally:
        server.terminate()
        server.wait(timeout=10)


class XClient:
    """A connection to the X server: fake presses (XTest) and read one pixel of the screen."""

    def __init__(self, display: str) -> None:
        self.x11 = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        self.xtst = ctypes.CDLL(ctypes.util.find_library("Xtst") or "libXtst.so.6")
        self.x11.XOpenDisplay.restype = ctypes.c_void_p
        self.x11.XOpenDisplay.argtypes = [ctypes.c_char_p]
        self.x11.XDefaultRootWindow.restype = ctypes.c_ulong
        self.x11.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        self.x11.XGetImage.restype = ctypes.c_void_p
        self.x11.XGetImage.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_int, ctypes.c_int, ctypes.c_uint,
                                       ctypes.c_uint, ctypes.c_ulong, ctypes.c_int]
        self.x11.XGetPixel.restype = ctypes.c_ulong
        self.x11.XGetPixel.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int]
        self.x11.XDestroyImage.argtypes = [ctypes.c_void_p]
        self.x11.XFlush.argtypes = [ctypes.c_void_p]
        self.x11.XCloseDisplay.argtypes = [ctypes.c_void_p]
        self.xtst.XTestFakeMotionEvent.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_int, ctypes.c_int,
                                                   ctypes.c_ulong]
        self.xtst.XTestFakeButtonEvent.argtypes = [ctypes.c_void_p, ctypes.c_uint, ctypes.c_int, ctypes.c_ulong]
        self.display = self.x11.XOpenDisplay(display.encode())
        if not self.display:
            raise SystemExit(f"cannot open X display {display}")
        self.root = self.x11.XDefaultRootWindow(self.display)

    def pixel(self, x: int, y: int) -> int:
        """The 0xRRGGBB value the server shows at (x, y) now."""
        image = self.x11.XGetImage(self.display, self.root, x, y, 1, 1, ALL_PLANES, Z_PIXMAP)
        try:
            return int(self.x11.XGetPixel(image, 0, 0)) & 0xFFFFFF
        finally:
            self.x11.XDestroyImage(image)

    def move(self, x: int, y: int) -> None:
        """Move the pointer (XTest), as a finger sliding."""
        self.xtst.XTestFakeMotionEvent(self.display, -1, x, y, 0)
        self.x11.XFlush(self.display)

    def button(self, down: bool) -> None:
        """Press or release the first button (XTest), as a finger touching or lifting."""
        self.xtst.XTestFakeButtonEvent(self.display, 1, int(down), 0)
        self.x11.XFlush(self.display)

    def wait_pixel(self, x: int, y: int, changed_from: int, timeout: float, poll: float = 0.0005) -> float | None:
        """The perf_counter() time at which (x, y) was first seen other than changed_from (None on timeout)."""
        start = time.perf_counter()
        while True:
            if self.pixel(x, y) != changed_from:
                return time.perf_counter()
            if time.perf_counter() - start > timeout:
                return None
            time.sleep(poll)

    def close(self) -> None:
        """Close the connection."""
        if self.display:
            self.x11.XCloseDisplay(self.display)
            self.display = None
