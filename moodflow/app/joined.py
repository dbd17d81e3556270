"""Features of a combined set (``a+b``, ``train.combine``) computed from audio at predict time:
every part's extractor on the same decoded signal, joined as training joined the stores
(moodflow.train.combined): static columns side by side, frames by window (the same start time;
windows one part lacks are left out) and flattened.

Everything comes from the model's manifest: ``feature_set`` names the parts, ``feature_extractor``
their extractors (``compare+chords``), ``feature_config`` each part's settings by set.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from moodflow.features.base import TrackFeatures

SEPARATOR = "+"  # as moodflow.train.combined names a combined set (app does not import train)


def is_joined(manifest: dict[str, Any]) -> bool:
    """Whether the model was trained on a combined set."""
    return SEPARATOR in str(manifest.get("feature_set") or "")


def part_manifests(manifest: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(set, a single-set manifest view: feature_extractor + feature_config) per part, in order;
    ValueError when the manifest does not describe every part."""
    sets = str(manifest.get("feature_set")).split(SEPARATOR)
    names = str(manifest.get("feature_extractor") or "").split(SEPARATOR)
    configs = manifest.get("feature_config")
    if len(names) != len(sets) or not isinstance(configs, dict) or any(not isinstance(configs.get(s), dict)
                                                                        for s in sets):
        raise ValueError(f"model.json: the combined set {manifest.get('feature_set')!r} needs one extractor and one "
                         "feature_config entry per part")
    return [(s, {"feature_set": s, "feature_extractor": n, "feature_config": configs[s]}) for s, n in zip(sets, names)]


class JoinedExtractor:
    """The parts' extractors as one: what :class:`moodflow.app.predict.Predictor` and bundles use."""

    def __init__(self, sets: list[str], extractors: list[Any]):
        self.sets, self.parts = list(sets), list(extractors)
        self.name = SEPARATOR.join(e.name for e in self.parts)
        self.version = SEPARATOR.join(str(e.version) for e in self.parts)
        self.needs_audio = all(e.needs_audio for e in self.parts)
        self.packages = tuple(dict.fromkeys(p for e in self.parts for p in e.packages))

    def config_dict(self) -> dict[str, Any]:
        return {s: e.config_dict() for s, e in zip(self.sets, self.parts)}

    def feature_names(self) -> list[str]:
        return [f"{s}/{f}" for s, e in zip(self.sets, self.parts) for f in e.feature_names()]

    parallel = "none"  # the parts run one after another in this process, on the same decoded signal

    @property
    def grid(self) -> Any:
        return self.parts[0].grid

    def frame_shape(self) -> tuple[int, ...]:
        return (int(sum(np.prod(e.frame_shape()) for e in self.parts)),)

    def worker_config(self) -> dict[str, Any]:
        return self.config_dict()

    def extract(self, y: np.ndarray, sample_rate: int) -> TrackFeatures:
        return self._join([e.extract(y, sample_rate) for e in self.parts])

    def extract_signal(self, signal: Any, sample_rate: int | None = None) -> TrackFeatures:
        """As :meth:`Extractor.extract_signal`: every part on the same signal (a long one in blocks)."""
        return self._join([e.extract_signal(signal, sample_rate) for e in self.parts])

    @staticmethod
    def _join(got: list[TrackFeatures]) -> TrackFeatures:
        static = np.concatenate([np.asarray(g.static, dtype=np.float32).ravel() for g in got])
        rows = [{t: i for i, t in enumerate(np.round(np.asarray(g.start_s), 6).tolist())} for g in got]
        common = [t for t in rows[0] if all(t in r for r in rows[1:])]
        picked = [[r[t] for t in common] for r in rows]
        frames = np.hstack([np.asarray(g.frames)[p].reshape(len(common), -1) for g, p in zip(got, picked)])
        return TrackFeatures(static, frames, np.asarray(got[0].start_s)[picked[0]], np.asarray(got[0].end_s)[picked[0]])
