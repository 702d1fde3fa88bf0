"""A JupyterLab started the way users start it (``run_all.sh --lab``) for the tests that need a server or a browser.

A module with its own name, not ``conftest``: test folders have conftest files of their own, and ``from conftest
import`` would find whichever was imported first."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = os.environ.get("XAI_CHROMIUM", "/usr/bin/chromium")
_URL = re.compile(r"(http://127\.0\.0\.1:(\d+)/lab\?token=([0-9a-f]+))")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def running_lab(port: int | None = None, env: dict | None = None, timeout: float = 120.0, notebook_dir=None):
    """``./run_all.sh --lab --port P --no-browser`` (serving ``notebook_dir`` if given, else notebooks/) in its own
    process group; yields (url with token, base, token, the server's output so far as a list of lines). The server
    is stopped (and its kernels with it) on exit."""
    port = port or free_port()
    extra = ["--notebook-dir", str(notebook_dir)] if notebook_dir else []
    proc = subprocess.Popen([str(ROOT / "run_all.sh"), "--lab", "--port", str(port), "--no-browser", *extra], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
                            env=env if env is not None else dict(os.environ))
    lines: list[str] = []
    try:
        deadline = time.monotonic() + timeout
        match = None
        while match is None:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"run_all.sh --lab exited ({proc.wait()}) before serving:\n" + "".join(lines))
            lines.append(line)
            match = _URL.search(line)
            if time.monotonic() > deadline:
                raise AssertionError("no URL printed within the timeout:\n" + "".join(lines))
        url, served_port, token = match.group(1), int(match.group(2)), match.group(3)
        assert served_port == port, f"asked for port {port}, served on {served_port}"
        # Keep draining the server's output so that it never blocks on a full pipe.
        threading.Thread(target=lambda: [lines.append(x) for x in proc.stdout], daemon=True).start()
        base = f"http://127.0.0.1:{port}"
        while True:  # JupyterLab prints the URL a moment before it accepts connections
            try:
                get_json(f"{base}/api/status", token)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise AssertionError("the server printed its URL but never answered:\n" + "".join(lines))
                time.sleep(0.2)
        yield url, base, token, lines
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def get_json(url: str, token: str | None = None):
    import json

    req = urllib.request.Request(url, headers={"Authorization": f"token {token}"} if token else {})
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.loads(response.read())
