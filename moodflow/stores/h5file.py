"""An HDF5 file written under a temporary name and renamed into place when complete."""

from __future__ import annotations

from pathlib import Path

import h5py

from moodflow.core.atomic import atomic_path


class AtomicH5Writer:
    """Base of the store writers: ``close`` finishes and renames, ``abort`` leaves nothing.

    Subclasses write into ``self._h5`` and put their closing datasets in :meth:`_finish`.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._ctx = atomic_path(self.path)
        self._h5 = h5py.File(self._ctx.__enter__(), "w")
        self._closed = False

    def _finish(self) -> None:
        """Write what is only known at the end (offsets, id lists)."""

    def close(self) -> None:
        """Finish the file and rename it into place."""
        if self._closed:
            return
        self._finish()
        self._h5.close()
        self._closed = True
        self._ctx.__exit__(None, None, None)

    def abort(self, exc: BaseException | None = None) -> None:
        """Drop the temporary file; nothing appears at ``path``."""
        if self._closed:
            return
        self._h5.close()
        self._closed = True
        exc = exc or RuntimeError("aborted")
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
