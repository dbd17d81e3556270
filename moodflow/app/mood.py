"""Zero-shot mood tags: the MSD musicnn tagger's mood-related Last.fm tags, no training needed.

Scores are musicnn's tag probabilities (sigmoid outputs) averaged over the track's 3 s patches,
as ``musicnn.tagger.top_tags`` averages its taggram; the tags are those of
:data:`moodflow.features.musicnn.tags.MSD_MOOD_TAGS`. They describe how Last.fm listeners tagged
similar music, not valence/arousal.
"""

from __future__ import annotations

from typing import Any

import numpy as np

TAGGER_MODEL = "MSD_musicnn"
PROVENANCE = ("musicnn MSD_musicnn (Pons & Serra 2019, weights of the musicnn 0.1.0 wheel), zero-shot: "
              "Last.fm tag probabilities averaged over 3 s patches")


class MoodTagger:
    """Mood tags of a mono signal, sorted by score (the network loads on first use)."""

    def __init__(self) -> None:
        from moodflow.features.musicnn.extractor import MusicnnExtractor

        self.extractor: Any = MusicnnExtractor({"model": TAGGER_MODEL}, {})

    def check(self) -> None:
        """Raise when the musicnn package (its weights) is not installed, naming the fix."""
        self.extractor.checkpoint  # noqa: B018 - locates and hash-checks the packaged files

    def tags(self, y: np.ndarray | Any, sample_rate: int) -> dict[str, float]:
        """Mood tags of ``y``: an array, or a :class:`~moodflow.stores.signal.Signal` (a long one
        is read block by block)."""
        from moodflow.features.musicnn.tags import MSD_MOOD_TAGS
        from moodflow.stores.signal import Signal

        if isinstance(y, Signal):
            long = y.duration_s > self.extractor.long_audio_s
            patches = self.extractor.patches_long(y) if long else self.extractor.patches(y.read(), y.sample_rate)
        else:
            patches = self.extractor.patches(y, sample_rate)
        scores = patches.taggram.mean(axis=0)
        index = {t: i for i, t in enumerate(self.extractor.tags)}
        pairs = [(t, float(scores[index[t]])) for t in MSD_MOOD_TAGS]
        return dict(sorted(pairs, key=lambda kv: -kv[1]))
