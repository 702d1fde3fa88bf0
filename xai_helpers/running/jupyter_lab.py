"""Start JupyterLab on the study's notebooks: ``./run_all.sh --lab [--port N] [--no-browser]``.

``run_all.sh`` sets up ``.venv`` first, exactly as for a study run, then calls this module. It registers the
environment's Python as a Jupyter kernel named :data:`KERNEL_DISPLAY_NAME` (inside the environment, so nothing
is written to the user's home), turns off JupyterLab's news check (the study works offline), and replaces
itself with ``jupyter lab`` serving ``notebooks/``.

The server listens on 127.0.0.1 only and keeps JupyterLab's token: the URL JupyterLab prints carries it. A port
given with ``--port`` is used or the start fails; JupyterLab would otherwise quietly move to the next free port
and a user following the printed command would open the wrong server. As root, JupyterLab refuses to start
without ``--allow-root``, which is added then (containers and CI run as root).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from pathlib import Path

from ..study import REPO_ROOT

#: Name of the kernel spec the notebooks' metadata names; JupyterLab starts it when a notebook opens.
KERNEL_NAME = "xai-study"
KERNEL_DISPLAY_NAME = "XAI study (.venv)"
#: JupyterLab's own default, used when no --port is given (it then moves on to a free port if this one is taken).
DEFAULT_PORT = 8888
# JupyterLab asks on first start whether to fetch news from jupyter.org; the study runs offline.
_SETTINGS_OVERRIDES = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false",
                                                                        "checkForUpdates": False}}


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--port {text!r} is not an integer; expected a port in 1..65535")
    if not 1 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"--port {port} is out of range; expected a port in 1..65535")
    return port


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="run_all.sh --lab",
                                description="Start JupyterLab on notebooks/ with the study's kernel "
                                            f"({KERNEL_DISPLAY_NAME!r}), on 127.0.0.1 with a token.")
    p.add_argument("--port", type=_port, default=None,
                   help=f"port to listen on (default {DEFAULT_PORT}, or the next free one); a given port must be free")
    p.add_argument("--no-browser", action="store_true", help="do not open a browser; open the printed URL yourself")
    p.add_argument("--notebook-dir", default=str(REPO_ROOT / "notebooks"),
                   help="folder to serve (default: notebooks/), e.g. a course assignment's student folder")
    return p


def lab_command(port: int | None, no_browser: bool, notebook_dir: Path, as_root: bool,
                jupyter: str | None = None) -> list[str]:
    """The ``jupyter lab`` command line for these options (token kept, loopback only)."""
    jupyter = jupyter or str(Path(sys.executable).with_name("jupyter"))
    cmd = [jupyter, "lab", f"--ServerApp.root_dir={notebook_dir}", "--ServerApp.ip=127.0.0.1"]
    if port is not None:
        cmd += [f"--ServerApp.port={port}", "--ServerApp.port_retries=0"]
    if no_browser:
        cmd.append("--no-browser")
    if as_root:
        cmd.append("--allow-root")
    return cmd


def register_kernel(prefix: str | Path = sys.prefix) -> Path:
    """Install this Python as the kernel spec :data:`KERNEL_NAME` under ``prefix`` (the environment) and return
    its folder. Re-running replaces it, so a moved or rebuilt ``.venv`` gets a spec pointing at its own Python."""
    from ipykernel.kernelspec import install

    return Path(install(kernel_name=KERNEL_NAME, display_name=KERNEL_DISPLAY_NAME, prefix=str(prefix)))


def write_settings_overrides(prefix: str | Path = sys.prefix) -> Path:
    """JupyterLab settings for this environment: no news or update checks (they need the network)."""
    path = Path(prefix) / "share" / "jupyter" / "lab" / "settings" / "overrides.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    current = json.loads(path.read_text()) if path.exists() else {}
    current.update(_SETTINGS_OVERRIDES)
    path.write_text(json.dumps(current, indent=2) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    notebook_dir = Path(args.notebook_dir).resolve()
    if not notebook_dir.is_dir():
        print(f"run_all.sh --lab: error: notebook folder {notebook_dir} does not exist", file=sys.stderr)
        return 2
    cmd = lab_command(args.port, args.no_browser, notebook_dir, as_root=hasattr(os, "geteuid") and os.geteuid() == 0)
    if not Path(cmd[0]).exists() and shutil.which(cmd[0]) is None:
        print(f"run_all.sh --lab: error: {cmd[0]} is missing: JupyterLab is not installed in this environment "
              "(delete .venv/.xai-stamp and run ./run_all.sh --lab again)", file=sys.stderr)
        return 2
    spec = register_kernel()
    write_settings_overrides()
    print(f"[lab] kernel {KERNEL_DISPLAY_NAME!r} registered ({spec})", file=sys.stderr)
    print(f"[lab] JupyterLab on {notebook_dir}, 127.0.0.1 only; open the URL with ?token= printed below "
          "(Ctrl-C twice stops it)", file=sys.stderr, flush=True)
    os.environ.pop("XAI_HEADLESS", None)  # someone watches: the notebooks show their forms (study.progress)
    os.execv(cmd[0], cmd)
    return 0  # not reached


if __name__ == "__main__":
    sys.exit(main())
