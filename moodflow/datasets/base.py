"""Dataset adapters: a dataset in its authors' layout → a :class:`PreparedDataset`
(``moodflow.stores.prepared``: manifest, labels, optional splits and a label spec)."""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Mapping

import pandas as pd

from moodflow.core.config import build
from moodflow.stores.prepared import PreparedDataset


@dataclass
class AdapterConfig:
    """Settings every adapter takes (``dataset.<name>`` in params.yaml)."""

    split_dir: str = ""  # train/validation/test.txt with one id a line; "" = the dataset's own split, if any
    index: str = ""  # CSV of published files (path,size,md5,duration_s); "" = the adapter's own, if any


class DatasetAdapter(ABC):
    """Turns a dataset in its authors' layout into a :class:`PreparedDataset`.

    Subclasses set ``name`` and document, as module constants, the citation, licence,
    expected layout, label scale and annotation grid (see ``docs/datasets.md``).
    """

    name: ClassVar[str]
    Config: ClassVar[type] = AdapterConfig

    def __init__(self, root: str | Path | None, config: Mapping[str, Any] | None = None):
        self.root = Path(root) if root else None
        self.config = build(self.Config, config, f"dataset.{self.name}")

    def require_root(self) -> Path:
        if self.root is None:
            raise ValueError(f"dataset {self.name!r} needs dataset.root (the folder you downloaded)")
        if not self.root.is_dir():
            raise FileNotFoundError(f"dataset {self.name!r}: dataset.root {self.root} is not a folder")
        return self.root

    def verification_index(self) -> tuple[Path, pd.DataFrame] | None:
        """(folder the paths are relative to, index) of the files this dataset should hold:
        ``dataset.<name>.index``, else the index the adapter ships (module constant ``INDEX``,
        a file in ``moodflow/datasets/indexes/``), else None. See :mod:`moodflow.datasets.verify`."""
        from moodflow.datasets.verify import INDEX_DIR, read_index

        if self.root is None:
            return None
        root = self.require_root()
        given = getattr(self.config, "index", "")
        if given:  # relative: against dataset.root when the file is there, else the working directory
            path = Path(given).expanduser()
            return root, read_index(path if path.is_absolute() else root / path if (root / path).is_file() else path)
        shipped = getattr(sys.modules[type(self).__module__], "INDEX", None)
        if shipped:
            return root, read_index(INDEX_DIR / shipped)
        return None

    @abstractmethod
    def load(self, work_dir: Path) -> PreparedDataset:
        """Read the dataset.

        ``work_dir`` is the (temporary) prepared folder: an adapter that generates audio (the
        demo) writes it there and puts paths relative to ``work_dir`` in the manifest; real
        datasets put absolute paths.
        """
