"""The peak memory of a notebook's processes (papermill and its kernel), for sizing a cluster job's memory request.

Measured by sampling, not with ``wait4``'s ``ru_maxrss``: on Linux a child's ``ru_maxrss`` starts from its parent's
resident size at the fork (exec keeps the old high-water mark), so a notebook started by a runner that holds 450 MB
would report at least 450 MB whatever it used. Each process's own high-water mark (``VmHWM`` in
``/proc/PID/status``, which exec resets) is read every ``every`` seconds and once more at the end; a peak reached in
a process that ended between two samples is missed, so the figure is a lower bound within that interval. Where
there is no ``/proc`` (macOS), the sampled resident size stands in for the high-water mark."""
from __future__ import annotations

import threading
from pathlib import Path

import psutil


def _high_water_mb(process: psutil.Process) -> float:
    status = Path(f"/proc/{process.pid}/status")
    try:
        if status.exists():
            line = next(x for x in status.read_text().splitlines() if x.startswith("VmHWM:"))
            return int(line.split()[1]) / 1024  # kB
        return process.memory_info().rss / 2**20
    except (OSError, StopIteration, psutil.Error):
        return 0.0  # gone between the listing and the read


class PeakMemory:
    """Samples the peak resident memory (MB) of ``pid`` and everything under it until :meth:`stop`."""

    def __init__(self, pid: int, every: float = 0.5):
        self.peak = 0.0
        self._root = psutil.Process(pid)
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, args=(every,), daemon=True)
        self._thread.start()

    def _sample(self) -> None:
        try:
            processes = [self._root, *self._root.children(recursive=True)]
        except psutil.Error:
            return
        self.peak = max([self.peak, *map(_high_water_mb, processes)])

    def _watch(self, every: float) -> None:
        while not self._done.wait(every):
            self._sample()

    def stop(self) -> float | None:
        """Stop sampling; the peak in MB (one decimal), or None when no sample saw the process."""
        self._done.set()
        self._thread.join()
        return round(self.peak, 1) if self.peak else None
