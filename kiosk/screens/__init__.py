"""Pygame screens, widgets, themes and translations."""

import sys

# pygame's pkgdata looks for setuptools' pkg_resources only to find its own data files, and has a plain file
# fallback; importing pkg_resources costs a quarter of a second of every cold start (issue 11: < 2 s). It is
# hidden while pygame loads, and only then, so anything that really wants it later still gets it.
if "pygame" not in sys.modules and "pkg_resources" not in sys.modules:
    sys.modules["pkg_resources"] = None  # type: ignore[assignment]
    try:
        import pygame  # noqa: F401 - loaded here, once, without pkg_resources
    finally:
        del sys.modules["pkg_resources"]
