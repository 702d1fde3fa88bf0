"""One seed for everything, deterministic kernels, and the provenance of a run."""
from __future__ import annotations

import datetime as _dt
import os
import platform
import random
import subprocess
from importlib import metadata
from pathlib import Path

import numpy as np
import torch

#: Packages whose versions go into every provenance record.
TRACKED_PACKAGES = (
    "torch", "torchvision", "captum", "torch-fidelity", "numpy", "scipy", "scikit-learn", "scikit-image",
    "pandas", "matplotlib", "seaborn", "mlxtend", "papermill", "nbval", "nbconvert", "ipykernel", "tqdm",
)


def seed_everything(seed: int, deterministic: bool = True) -> torch.Generator:
    """Seed ``random``, ``numpy`` and ``torch`` (CPU and CUDA) from ``seed``; turn on deterministic kernels.

    Returns a fresh ``torch.Generator`` seeded with ``seed`` for code that wants its own stream.
    """
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    # cuBLAS needs this set before its first use to be deterministic.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    if deterministic:
        _deterministic_algorithms(True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def _deterministic_algorithms(mode: bool) -> None:
    """``torch.use_deterministic_algorithms(mode, warn_only=True)`` without its import of ``torch._inductor``.

    The public function imports the compiler's configuration only to set inductor's own flag, and that import
    (``torch._dynamo``) takes 2.3 s on a 2-core CPU, in every notebook. The study never compiles a model, so the
    flag that matters is ATen's, which is what the public function sets next; where torch lacks the private
    setter, the public function is used.
    """
    setter = getattr(torch._C, "_set_deterministic_algorithms", None)
    if setter is None:
        torch.use_deterministic_algorithms(mode, warn_only=True)
    else:
        setter(mode, warn_only=True)


def with_global_rng_restored(fn, device: torch.device):
    """``fn()``, with the global ``random``, ``numpy`` and ``torch`` generators restored afterwards.

    Training draws from the global generators; restoring them keeps what a notebook draws next the same whether
    a model came from the cache or was trained just now.
    """
    py_state, np_state = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        try:
            return fn()
        finally:
            random.setstate(py_state)
            np.random.set_state(np_state)


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` → CUDA when present, else CPU; ``cuda`` without a GPU is an error, not a silent CPU run."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' was asked for, but torch sees no CUDA GPU; use 'auto' or 'cpu'")
        return torch.device("cuda")
    raise ValueError(f"unknown device {device!r}; allowed: auto, cpu, cuda")


#: Where uncommitted changes (untracked files too) can change the study's results: what makes a commit ``+dirty``.
RESULT_PATHS = (":/xai_helpers", ":/notebooks", ":/pyproject.toml", ":/requirements")


def git_sha(short: bool = False, cwd: str | Path | None = None, paths=RESULT_PATHS) -> str:
    """The checkout's commit (``+dirty`` when uncommitted changes exist under ``paths``), or ``unknown`` outside
    git."""
    cwd = cwd or Path(__file__).resolve().parent
    try:
        sha = subprocess.run(["git", "rev-parse", "--short" if short else "--verify", "HEAD"], cwd=cwd,
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", *paths], cwd=cwd,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def package_versions(names=TRACKED_PACKAGES) -> dict[str, str | None]:
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out


def provenance(device: str | torch.device = "cpu", seeds=None, **extra) -> dict:
    """Versions, git sha, device, CPU, threads, seeds and the time: what a reader needs to rerun a result."""
    device = torch.device(device)
    info = {
        "time_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "git_sha": git_sha(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "packages": package_versions(),
        "device": str(device),
        "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "seeds": list(seeds) if seeds is not None else None,
        "deterministic": torch.are_deterministic_algorithms_enabled(),
    }
    info.update(extra)
    return info
