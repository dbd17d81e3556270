"""Loading saved scikit-learn pipelines with skops, trusting only known types."""

from __future__ import annotations

from pathlib import Path

# Types a moodflow pipeline is made of; anything else in a file is refused.
TRUSTED_PREFIXES = ("sklearn.", "xgboost.", "numpy.", "scipy.")


class UntrustedModelError(ValueError):
    """A model file holds types moodflow does not trust, or is not a skops file at all."""


def load_skops(path: Path):
    """Load a skops file, refusing it if it names any type outside sklearn/numpy/scipy."""
    import zipfile

    import skops.io as sio

    path = Path(path)
    if not zipfile.is_zipfile(path):
        raise UntrustedModelError(f"{path}: not a skops model file (refusing to load it)")
    try:
        untrusted = sio.get_untrusted_types(file=path)
    except Exception as exc:  # noqa: BLE001
        raise UntrustedModelError(f"{path}: unreadable model file ({exc})") from None
    bad = [t for t in untrusted if not t.startswith(TRUSTED_PREFIXES) and t not in _BUILTIN_OK]
    if bad:
        raise UntrustedModelError(f"{path}: refusing to load untrusted types {bad}")
    return sio.load(path, trusted=untrusted)


_BUILTIN_OK = {"builtins.slice", "builtins.float", "builtins.int", "builtins.bool", "builtins.str"}
