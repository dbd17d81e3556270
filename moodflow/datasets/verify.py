"""Is a downloaded dataset complete and intact? An index (mirdata's idea) lists the files its
authors publish — relative path, size, md5 (or sha256) and, for audio, duration — and
:func:`verify` compares a folder with it: files **missing**, files **corrupt** (size or checksum
differs) and files **extra** (in an indexed folder but not in the index), in one table.

Index files are CSVs ``path,size,md5,duration_s`` (blank where unknown); an adapter ships its
own as ``moodflow/datasets/indexes/<name>.csv`` (module constant ``INDEX``), and
``dataset.<name>.index`` names another. MTG-Jamendo's own ``*_sha256_tracks.txt`` lists
(``<sha256> <path>`` a line) read as indexes too (:func:`read_sha256_list`).

``quick`` checks presence and size only (what the prepare stage does: no file is read);
the full check (``moodflow datasets verify``) also hashes every file.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from moodflow.core.paths import is_inside, normalise, resolve_inside

INDEX_DIR = Path(__file__).parent / "indexes"
INDEX_COLUMNS = ["path", "size", "md5", "sha256", "duration_s"]
REPORT_COLUMNS = ["status", "path", "detail"]


@dataclass
class Verification:
    """The outcome: one row per problem (status missing | corrupt | extra, path, detail)."""

    root: Path
    checked: int
    table: pd.DataFrame

    def count(self, status: str) -> int:
        return int((self.table["status"] == status).sum())

    @property
    def ok(self) -> bool:
        """No file missing or corrupt (extra files are reported, not a failure)."""
        return self.count("missing") == 0 and self.count("corrupt") == 0

    def summary(self) -> str:
        """One line: how many indexed files are present and intact, and what is not."""
        intact = self.checked - self.count("missing") - self.count("corrupt")
        return (f"{self.root}: {intact} of {self.checked} indexed files present and intact; "
                f"{self.count('missing')} missing, {self.count('corrupt')} corrupt, {self.count('extra')} extra")

    def format_table(self, limit: int = 50) -> str:
        """The problems as an aligned text table (the first ``limit`` rows)."""
        if not len(self.table):
            return self.summary()
        rows = self.table.head(limit).to_numpy().tolist()
        widths = [max(len(str(r[i])) for r in [REPORT_COLUMNS, *rows]) for i in range(2)]
        lines = [f"{REPORT_COLUMNS[0]:<{widths[0]}}  {REPORT_COLUMNS[1]:<{widths[1]}}  {REPORT_COLUMNS[2]}"]
        lines += [f"{s:<{widths[0]}}  {p:<{widths[1]}}  {d}" for s, p, d in rows]
        if len(self.table) > limit:
            lines.append(f"… (+{len(self.table) - limit} more rows)")
        return "\n".join(lines + [self.summary()])


def read_index(path: str | Path) -> pd.DataFrame:
    """An index CSV (or a ``*_sha256_tracks.txt`` list) as columns :data:`INDEX_COLUMNS`; each
    entry's line in the file is in ``table.attrs["lines"]`` (for messages), the file in
    ``table.attrs["source"]``."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"dataset index {path} not found")
    if path.suffix == ".txt":
        return read_sha256_list(path)
    with open(path, newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        columns = [str(c) for c in reader.fieldnames or []]
        if "path" not in columns or not {"size", "md5", "sha256"} & set(columns):
            raise ValueError(f"dataset index {path}: needs columns path and size, md5 or sha256 "
                             f"(columns: {columns})")
        rows, lines = [], []
        for row in reader:
            lines.append(reader.line_num)
            rows.append({c: "" if row.get(c) is None else str(row.get(c)) if c == "path" else str(row.get(c)).strip()
                         for c in INDEX_COLUMNS})
            for column, pattern in _FORMATS.items():
                if rows[-1][column] and not re.fullmatch(pattern, rows[-1][column]):
                    raise ValueError(f"dataset index {path} line {reader.line_num}: {column} {rows[-1][column][:80]!r} "
                                     f"is not {_FORMAT_NAMES[column]}")
    return _with_lines(pd.DataFrame(rows, columns=INDEX_COLUMNS), path, lines)


_FORMATS = {"size": r"\d{1,18}", "md5": r"[0-9a-fA-F]{32}", "sha256": r"[0-9a-fA-F]{64}"}
_FORMAT_NAMES = {"size": "a size in bytes", "md5": "an MD5 (32 hex digits)", "sha256": "a SHA-256 (64 hex digits)"}


def _with_lines(table: pd.DataFrame, source: Path, lines: list[int]) -> pd.DataFrame:
    table.attrs["source"], table.attrs["lines"] = str(source), lines
    return table


def read_sha256_list(path: str | Path) -> pd.DataFrame:
    """``<sha256> <relative path>`` lines (sha256sum's and MTG's format) as an index."""
    rows, lines = [], []
    for lineno, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise ValueError(f"dataset index {path} line {lineno}: expected '<sha256> <path>', got {line[:80]!r}")
        rows.append({"path": parts[1].strip().lstrip("*"), "size": "", "md5": "", "sha256": parts[0],
                     "duration_s": ""})
        lines.append(lineno)
    return _with_lines(pd.DataFrame(rows, columns=INDEX_COLUMNS), Path(path), lines)


def index_paths(root: Path, index: pd.DataFrame) -> list[Path]:
    """Each entry's file under ``root``, every one checked to stay inside it before any is used
    (:func:`moodflow.core.paths.resolve_inside`: an absolute path, ``..`` or a link leading out
    refuses the index, naming its file, the line and the path)."""
    source = index.attrs.get("source") or "dataset index"
    lines = index.attrs.get("lines") or []
    if len(lines) != len(index):
        lines = [i + 2 for i in range(len(index))]  # a CSV with a header, one entry a line
    return [resolve_inside(root, str(rel), source=source, line=line, what="path")
            for rel, line in zip(index["path"], lines)]


def _digest(path: Path, algorithm: str) -> str:
    h = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(root: str | Path, index: pd.DataFrame, *, quick: bool = False) -> Verification:
    """Compare ``root`` with ``index`` (see the module docstring). Every path is checked to stay
    inside ``root`` before any file is looked at; only files inside ``root`` are sized, hashed
    or listed as extra."""
    root = Path(root)
    paths = index_paths(root, index)
    rows = []
    listed = {normalise(str(p)) for p in index["path"]}
    for entry, path in zip(index.itertuples(index=False), paths):
        if not path.is_file():
            rows.append(("missing", entry.path, "not on disk"))
            continue
        size = os.stat(path).st_size
        if entry.size and size != int(entry.size):
            kind = "truncated" if size < int(entry.size) else "longer than published"
            rows.append(("corrupt", entry.path, f"{kind}: {size} of {int(entry.size)} bytes"))
            continue
        if quick:
            continue
        for algorithm in ("md5", "sha256"):
            expected = getattr(entry, algorithm)
            if expected and _digest(path, algorithm) != expected.lower():
                rows.append(("corrupt", entry.path, f"{algorithm} differs from the index"))
                break
    folders = {Path(p).parent for p in listed}
    for folder in sorted(folders):
        directory = root / folder
        if not directory.is_dir() or not is_inside(root, directory):
            continue
        for name in sorted(os.listdir(directory)):
            rel = (folder / name).as_posix()
            if (rel not in listed and not name.startswith(".") and is_inside(root, directory / name)
                    and (directory / name).is_file()):
                rows.append(("extra", rel, "not in the index"))
    order = {"missing": 0, "corrupt": 1, "extra": 2}
    rows.sort(key=lambda r: (order[r[0]], r[1]))
    return Verification(root, len(index), pd.DataFrame(rows, columns=REPORT_COLUMNS))


def make_index(root: str | Path, paths: list[str] | None = None) -> pd.DataFrame:
    """An index of the files under ``root`` (or the relative ``paths``): size, md5 and, where the
    header tells it, the audio duration."""
    root = Path(root)
    if paths is None:  # a link leading out of the root is not part of the dataset: never hashed
        paths = sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                       if not any(part.startswith(".") for part in p.relative_to(root).parts)
                       and is_inside(root, p) and p.is_file())
    rows = []
    for rel in paths:
        path = resolve_inside(root, rel, what="path")
        rows.append({"path": rel, "size": str(os.stat(path).st_size), "md5": _digest(path, "md5"), "sha256": "",
                     "duration_s": _duration(path)})
    return pd.DataFrame(rows, columns=INDEX_COLUMNS)


def _duration(path: Path) -> str:
    from moodflow.datasets._common import AUDIO_EXTENSIONS

    if path.suffix.lower() not in AUDIO_EXTENSIONS:
        return ""
    try:
        import soundfile

        return f"{soundfile.info(str(path)).duration:.3f}"
    except Exception:  # noqa: BLE001 - a header soundfile cannot read leaves the duration blank
        return ""
