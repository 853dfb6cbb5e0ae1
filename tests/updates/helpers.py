"""Tiny fake `kiosk` releases (real wheels pip installs, with a dependency wheel) and a loopback HTTP server for a
TUF repository folder, with byte ranges and switches for the attacks (tampered, endless, cut, replaced files)."""

from __future__ import annotations

import base64
import hashlib
import http.server
import threading
import zipfile
from pathlib import Path

from provisioning.updates.bundle import build_bundle

# The fake release's `kiosk` command: `healthy` writes its health report and runs until stopped, `crash` exits at
# start-up, `hang` runs without ever reporting healthy (the deadline must catch it).
RUN = '''import os, sys, time, json
BEHAVIOUR, VERSION = {behaviour!r}, {version!r}

def main():
    root = os.environ["KIOSK_UPDATES_ROOT"]
    if BEHAVIOUR == "crash":
        sys.exit(3)
    if BEHAVIOUR == "healthy":
        os.makedirs(os.path.join(root, "health"), exist_ok=True)
        path = os.path.join(root, "health", VERSION)
        with open(path + ".tmp", "w") as f:
            json.dump({{"version": VERSION, "checks": ["fake"]}}, f)
        os.replace(path + ".tmp", path)
    while True:
        time.sleep(0.2)
'''


def _wheel(folder: Path, name: str, version: str, files: dict[str, str], requires: list[str],
           scripts: dict[str, str]) -> Path:
    dist = f"{name.replace('-', '_')}-{version}"
    meta = f"{dist}.dist-info"
    content = dict(files)
    content[f"{meta}/METADATA"] = ("Metadata-Version: 2.1\n" f"Name: {name}\nVersion: {version}\n"
                                   + "".join(f"Requires-Dist: {r}\n" for r in requires))
    content[f"{meta}/WHEEL"] = "Wheel-Version: 1.0\nGenerator: kiosk-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    if scripts:
        content[f"{meta}/entry_points.txt"] = "[console_scripts]\n" + "".join(
            f"{k} = {v}\n" for k, v in scripts.items())
    record = []
    for path, text in content.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(text.encode())}")
    record.append(f"{meta}/RECORD,,")
    content[f"{meta}/RECORD"] = "\n".join(record) + "\n"
    out = folder / f"{dist}-py3-none-any.whl"
    with zipfile.ZipFile(out, "w") as zf:
        for path, text in content.items():
            zf.writestr(path, text)
    return out


def fake_wheels(folder: Path, version: str, behaviour: str = "healthy") -> list[Path]:
    """A `kiosk` wheel of `version` whose command behaves as asked, and the dependency wheel it needs."""
    folder.mkdir(parents=True, exist_ok=True)
    dep = folder / "kiosk_fake_dep-1.0-py3-none-any.whl"
    if not dep.exists():
        _wheel(folder, "kiosk-fake-dep", "1.0", {"kiosk_fake_dep/__init__.py": "VALUE = 42\n"}, [], {})
    main = _wheel(folder, "kiosk", version,
                  {"kiosk/__init__.py": f"__version__ = {version!r}\n",
                   "kiosk/fake_run.py": RUN.format(behaviour=behaviour, version=version)},
                  ["kiosk-fake-dep"], {"kiosk": "kiosk.fake_run:main"})
    return [main, dep]


def fake_bundle(folder: Path, version: str, behaviour: str = "healthy") -> bytes:
    """A release bundle of a fake kiosk (checked installable with pip --no-index, like a real one)."""
    wheels = fake_wheels(folder / f"wheels-{version}-{behaviour}", version, behaviour)
    return build_bundle(wheels, version, check=False)


class RepoServer:
    """Serves a repository folder over HTTP on loopback (port 0) with byte ranges and fault switches."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.replace: dict[str, bytes] = {}  # path → bytes served instead of the file
        self.endless: set[str] = set()  # paths answered with bytes that never end
        self.cut_after: dict[str, int] = {}  # path → the connection drops after this many bytes (once)
        self.requests: list[tuple[str, str]] = []  # (path, Range header)
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path = self.path.lstrip("/")
                server.requests.append((path, self.headers.get("Range", "")))
                if path in server.endless:
                    self.send_response(200)
                    self.send_header("Connection", "close")
                    self.end_headers()
                    try:
                        while True:
                            self.wfile.write(b"\0" * 65536)
                    except OSError:
                        return
                data = server.replace.get(path)
                if data is None:
                    file = server.folder / path
                    if ".." in path.split("/") or not file.is_file():
                        self.send_response(404)
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    data = file.read_bytes()
                start = 0
                rng = self.headers.get("Range", "")
                if rng.startswith("bytes=") and rng.endswith("-"):
                    start = int(rng[6:-1])
                body = data[start:]
                self.send_response(206 if start else 200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                cut = server.cut_after.pop(path, None)
                if cut is not None:
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="tuf-repo-server", daemon=True)

    def __enter__(self) -> RepoServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self._thread.join(timeout=5)
