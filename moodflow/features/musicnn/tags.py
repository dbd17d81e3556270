"""The tag vocabularies of the packaged models and the MSD tags that name a mood.

The labels are read from the installed package (``musicnn/configuration.py``, which imports
nothing), so they are always the ones the checkpoints were trained with.
"""

from __future__ import annotations

import importlib
import re

# Last.fm tags of the MSD models that describe a mood or a listening situation (not a genre,
# an era or an instrument); the zero-shot mood tags of `moodflow predict`.
MSD_MOOD_TAGS = ("happy", "sad", "beautiful", "Mellow", "chill", "chillout", "easy listening",
                 "party", "sexy", "catchy")


def labels(model: str) -> list[str]:
    """The 50 tags of ``model``'s taggram, in output order (MSD: Last.fm, MTT: MagnaTagATune)."""
    from moodflow.features.musicnn.checkpoint import INSTALL_HINT, MusicnnUnavailable

    try:
        config = importlib.import_module("musicnn.configuration")
    except ImportError as exc:
        raise MusicnnUnavailable(f"the musicnn package is not installed: {INSTALL_HINT}") from exc
    return list(config.MSD_LABELS if model.startswith("MSD") else config.MTT_LABELS)


def column_name(tag: str) -> str:
    """A tag as a feature-name fragment: ``female vocalists`` → ``female_vocalists``."""
    return re.sub(r"[^0-9A-Za-z]+", "_", tag).strip("_")
