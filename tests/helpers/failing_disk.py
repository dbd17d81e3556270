"""A real full disk for tests: a tiny tmpfs mounted on a test folder (needs root and a kernel
that lets this process mount, as in the project's VMs and most CI runners as root).

Where mounting is not allowed, tests fall back to a per-file size limit (``RLIMIT_FSIZE``):
writes beyond it fail with ``EFBIG`` inside the very same write calls, which is as real a
failed write as ENOSPC for the code under test, or skip when they need ENOSPC itself."""

from __future__ import annotations

import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


def can_mount() -> bool:
    """Whether tests may mount (``MOODFLOW_TEST_NO_MOUNT=1`` forces the fallbacks, to test them)."""
    if os.environ.get("MOODFLOW_TEST_NO_MOUNT"):
        return False
    return os.geteuid() == 0 and shutil.which("mount") is not None and shutil.which("umount") is not None


@contextmanager
def tiny_disk(path: Path, size: str = "64k") -> Iterator[Path | None]:
    """``path`` as the mount point of a ``size`` tmpfs (None when it cannot be mounted)."""
    path.mkdir(parents=True, exist_ok=True)
    if not can_mount() or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                                         capture_output=True).returncode != 0:
        yield None
        return
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], capture_output=True)


def grow(path: Path, size: str) -> None:
    """Give a mounted tiny disk more room, keeping its files (space freed, nothing lost)."""
    subprocess.run(["mount", "-o", f"remount,size={size}", str(path)], check=True, capture_output=True)
