"""Wall time, CPU time and peak RSS of a process tree, sampled with psutil."""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass

import psutil


@dataclass
class Measure:
    """What a :class:`Sampler` saw: wall seconds, CPU seconds (tree), peak tree RSS in MiB."""

    wall_s: float = 0.0
    cpu_s: float = 0.0
    peak_rss_mib: float = 0.0
    peak_process_rss_mib: float = 0.0  # the largest RSS of any one process of the tree
    peak_pss_mib: float = 0.0  # tree PSS (shared pages split between sharers); with pss=True only

    def utilisation(self, cores: int) -> float:
        """CPU seconds / (wall seconds x cores): 1.0 = every core busy the whole time."""
        return self.cpu_s / max(self.wall_s * cores, 1e-9)


class Sampler:
    """Context manager sampling process ``pid`` (default: this one) and all its descendants.

    CPU time is summed per process over the last sample seen, so a child that exits between
    two samples loses at most ``interval`` seconds of CPU.
    """

    def __init__(self, pid: int | None = None, interval: float = 0.05, pss: bool = False):
        self.pid = pid or os.getpid()
        self.pss = pss
        self.interval = interval
        self.result = Measure()
        self._cpu: dict[int, float] = {}
        self._base: dict[int, float] = {}
        self._stop = threading.Event()

    def _tree(self) -> list[psutil.Process]:
        try:
            root = psutil.Process(self.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def _sample(self) -> None:
        rss = pss = 0
        for proc in self._tree():
            try:
                t = proc.cpu_times()
                one = proc.memory_info().rss
                pss += proc.memory_full_info().pss if self.pss else 0
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            rss += one
            self.result.peak_process_rss_mib = max(self.result.peak_process_rss_mib, one / 2**20)
            self._cpu[proc.pid] = t.user + t.system
        self.result.peak_rss_mib = max(self.result.peak_rss_mib, rss / 2**20)
        self.result.peak_pss_mib = max(self.result.peak_pss_mib, pss / 2**20)

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> "Sampler":
        self._sample()
        self._base = dict(self._cpu)
        self._t0 = time.perf_counter()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> Measure:
        self._sample()
        self._stop.set()
        self._thread.join()
        self.result.wall_s = time.perf_counter() - self._t0
        self.result.cpu_s = sum(c - self._base.get(pid, 0.0) for pid, c in self._cpu.items())
        return self.result

    def __exit__(self, *exc) -> None:
        if not self._stop.is_set():
            self.stop()


def cores() -> int:
    """Usable cores of this process."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1
