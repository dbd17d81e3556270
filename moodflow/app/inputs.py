"""What ``moodflow predict`` was asked to read: files, folders (recursive) and glob patterns.

Everything about the inputs is checked here, before any model is loaded: a missing file, a
pattern that matches nothing, a folder without audio and a directory named like an audio file
(``x.mp3/``) are per-input errors; the other inputs are still predicted.
"""

from __future__ import annotations

import glob
from pathlib import Path

# the decoder reads more; these are what a folder or pattern scan picks up
AUDIO_EXTENSIONS = (".mp3", ".wav", ".flac", ".ogg", ".m4a", ".aif", ".aiff", ".opus")


def _is_audio_name(path: Path) -> bool:
    return path.suffix.lower() in AUDIO_EXTENSIONS and not path.name.startswith(".")


def _scan(folder: Path) -> list[Path]:
    return sorted((p for p in folder.rglob("*") if p.is_file() and _is_audio_name(p)), key=lambda p: str(p))


def expand_inputs(items: list[str | Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """(audio files in order, without repeats; (input, problem) for each input that gives none).

    A folder is searched recursively for audio files; an argument with ``*``, ``?`` or ``[`` is a
    glob pattern (``**`` recursive; quote it so the shell leaves it alone); a file is taken as
    given, whatever its extension (the decoder decides).
    """
    files: list[Path] = []
    errors: list[tuple[str, str]] = []
    for item in items:
        text = str(item)
        path = Path(text)
        if any(c in text for c in "*?[") and not path.exists():
            matched = sorted(glob.glob(text, recursive=True))
            found = []
            for m in map(Path, matched):
                if m.is_dir():
                    found.extend(_scan(m))
                elif m.is_file():
                    found.append(m)
            if not found:
                errors.append((text, f"{text}: no audio file matches this pattern"))
            files.extend(found)
        elif path.is_dir():
            if _is_audio_name(path):
                errors.append((text, f"{text}: is a directory, not an audio file"))
                continue
            found = _scan(path)
            if not found:
                errors.append((text, f"{text}: no audio files ({', '.join(AUDIO_EXTENSIONS)}) in this folder"))
            files.extend(found)
        elif path.is_file():
            files.append(path)
        elif path.exists():
            errors.append((text, f"{text}: not a regular file"))
        else:
            errors.append((text, f"{text}: file not found"))
    seen: set[str] = set()
    unique = []
    for f in files:
        key = str(f.resolve()) if f.exists() else str(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, errors
