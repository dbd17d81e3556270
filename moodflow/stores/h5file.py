"""An HDF5 file written under a temporary name and renamed into place when complete."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import h5py

from moodflow.core.atomic import atomic_path

log = logging.getLogger(__name__)


class AtomicH5Writer:
    """Base of the store writers: ``close`` finishes and renames, ``abort`` leaves nothing.

    Subclasses write into ``self._h5`` and put their closing datasets in :meth:`_finish`.

    A write that fails (a full disk) must not fail a second time on the way out: HDF5 flushes
    its caches when a dataset or the file closes, and an object whose close fails stays open
    in the library and crashes the interpreter when it is freed (a segfault). The file is being
    thrown away, so :meth:`abort` first points HDF5's file descriptor at ``/dev/null``: the
    flushes then succeed, writing nowhere, the file closes cleanly and is deleted.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._ctx = atomic_path(self.path)
        self._tmp = self._ctx.__enter__()
        try:
            self._h5 = h5py.File(self._tmp, "w")
        except BaseException as exc:
            self._exit_ctx(exc)
            raise
        self._closed = False

    def _finish(self) -> None:
        """Write what is only known at the end (offsets, id lists)."""

    def close(self) -> None:
        """Finish the file and rename it into place (on any failure: :meth:`abort`, then raise)."""
        if self._closed:
            return
        try:
            self._finish()
            self._h5.flush()  # a full disk fails here, while every object can still be closed
            self._h5.close()
        except BaseException as exc:
            self.abort(exc)
            raise
        self._closed = True
        self._ctx.__exit__(None, None, None)

    def abort(self, exc: BaseException | None = None) -> None:
        """Drop the temporary file; nothing appears at ``path``. Never raises."""
        if self._closed:
            return
        self._closed = True
        try:
            if self._h5.id.valid:
                null = os.open(os.devnull, os.O_RDWR)
                try:
                    os.dup2(null, self._h5.id.get_vfd_handle())
                finally:
                    os.close(null)
                # the datasets first: one whose write failed is not closed by the file's close
                for obj in list(vars(self).values()):
                    if isinstance(obj, h5py.HLObject) and not isinstance(obj, h5py.File):
                        _release(obj.id)
                self._h5.close()
        except Exception as close_error:  # noqa: BLE001 - the error that made us abort is the one reported
            log.debug("%s: closing after an error failed too: %s", self._tmp, close_error)
        self._exit_ctx(exc or RuntimeError("aborted"))

    def _exit_ctx(self, exc: BaseException) -> None:
        try:
            self._ctx.__exit__(type(exc), exc, None)
        except BaseException:  # noqa: BLE001 - atomic_path re-raises exc after cleaning up
            pass

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc is None:
            self.close()
        else:
            self.abort(exc)


def _release(oid) -> None:
    """Close an HDF5 object id, whatever references the library still counts."""
    for _ in range(4):
        if not oid.valid:
            return
        try:
            h5py.h5i.dec_ref(oid)
        except Exception as exc:  # noqa: BLE001 - retried, then left to the file's close
            log.debug("closing %s failed: %s", oid, exc)
