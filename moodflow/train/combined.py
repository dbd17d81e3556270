"""Several feature stores read as one: a combined set such as ``compare+chords`` or
``mert+chords`` (Music2Emo feeds MERT embeddings together with chord and key features).

Stores are joined by track id: a track is in the combined set when every store has it, in the
first store's order; a track that failed in any store (an all-NaN static row there) is a failed
track of the combined set. Static columns are the stores' columns side by side, named
``<set>/<name>`` (``chords/key_clarity``), with groups ``<set>/<group>`` (a store without
groups: ``<set>/<name>``), so importance still reports per set and group. Frames are joined
by window (the same ``start_s``; windows missing from a store are left out) and flattened, so
a layered set (MERT) enters a combined set as a flat vector: the neural models' ``layers``
selection does not apply to it. Nothing is written: the join happens when a model trains.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from moodflow.stores.feature_store import FeatureStore, StoreMismatchError

SEPARATOR = "+"
log = logging.getLogger(__name__)


def parts(feature_set: str) -> list[str]:
    """The sets a (possibly combined) set name is made of: ``compare+chords`` → [compare, chords]."""
    names = feature_set.split(SEPARATOR)
    if any(not n for n in names) or len(set(names)) != len(names):
        raise ValueError(f"{feature_set!r} is not a feature set name or <set>+<set>… of distinct sets")
    return names


class CombinedStore:
    """The read interface of :class:`FeatureStore` that training uses, over several stores."""

    def __init__(self, paths: Sequence[str | Path], feature_sets: Sequence[str]):
        if len(paths) != len(feature_sets) or len(paths) < 2:
            raise ValueError(f"a combined set needs one store per set: {list(feature_sets)} vs {len(paths)} stores")
        self.sets = list(feature_sets)
        self.stores: list[FeatureStore] = []
        try:
            for path in paths:
                self.stores.append(FeatureStore(path))
        except BaseException:
            self.close()
            raise
        common = set.intersection(*(set(s.ids) for s in self.stores))
        self.ids: list[str] = [t for t in self.stores[0].ids if t in common]
        self.feature_names: list[str] = [f"{name}/{f}" for name, s in zip(self.sets, self.stores) for f in s.feature_names]
        self.feature_groups: list[str] = [
            f"{name}/{g}" for name, s in zip(self.sets, self.stores) for g in (s.feature_groups or s.feature_names)]
        self.frame_names: list[str] | None = None
        self.block_widths: list[int] = [len(s.feature_names) for s in self.stores]  # static columns per store
        self.frame_widths: list[int] = [int(np.prod(s.frame_shape)) for s in self.stores]  # flat frame widths

    def check(self, feature_set: str) -> None:
        """Refuse stores that are not, in order, the parts of ``feature_set``."""
        if parts(feature_set) != self.sets:
            raise StoreMismatchError(f"combined set {feature_set!r} is not {SEPARATOR.join(self.sets)!r}")
        for name, store in zip(self.sets, self.stores):
            store.check(name)

    @property
    def attrs(self) -> dict[str, Any]:
        """Provenance of the combination: extractor ``a+b``, versions ``1+1``, each store's config."""
        each = [s.attrs for s in self.stores]
        return {
            "extractor": SEPARATOR.join(str(a.get("extractor")) for a in each),
            "extractor_version": SEPARATOR.join(str(a.get("extractor_version")) for a in each),
            "config": {name: a.get("config") for name, a in zip(self.sets, each)},
            "sample_rate": int(each[0].get("sample_rate", 0)),
            "dataset": each[0].get("dataset"),
        }

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """(sum of the stores' flattened frame widths,)."""
        return (int(sum(np.prod(s.frame_shape) for s in self.stores)),)

    def static(self, ids: Sequence[str] | None = None) -> np.ndarray:
        """(N, F₁+F₂+…) for the joined ids (or ``ids``); all NaN where any store's row is."""
        ids = self.ids if ids is None else list(ids)
        blocks = [s.static(ids).astype(np.float32) for s in self.stores]
        out = np.hstack(blocks) if ids else np.empty((0, len(self.feature_names)), np.float32)
        failed = np.any([np.all(np.isnan(block), axis=1) for block in blocks], axis=0)
        out[failed] = np.nan
        return out

    def frames(self, track_id: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(values (T, width), start_s, end_s) over the windows every store has for the track."""
        got = [s.frames(track_id) for s in self.stores]
        rows = [{t: i for i, t in enumerate(np.round(start, 6).tolist())} for _, start, _ in got]
        common = [t for t in rows[0] if all(t in r for r in rows[1:])]
        picked = [[r[t] for t in common] for r in rows]
        values = np.hstack([np.asarray(v)[p].reshape(len(common), -1) for (v, _, _), p in zip(got, picked)])
        return values, got[0][1][picked[0]], got[0][2][picked[0]]

    def close(self) -> None:
        for store in self.stores:
            store.close()

    def __enter__(self) -> "CombinedStore":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_features(paths: str | Path | Sequence[str | Path], feature_set: str) -> FeatureStore | CombinedStore:
    """The store(s) of ``feature_set`` (one path for a plain set, one per part for ``a+b``),
    checked against the set's name (a store made by another extractor is refused)."""
    paths = [paths] if isinstance(paths, (str, Path)) else list(paths)
    names = parts(feature_set)
    if len(names) != len(paths):
        raise ValueError(f"feature set {feature_set!r} has {len(names)} part(s) but {len(paths)} store(s) were given")
    store: FeatureStore | CombinedStore = FeatureStore(paths[0]) if len(paths) == 1 else CombinedStore(paths, names)
    try:
        store.check(feature_set)
    except BaseException:
        store.close()
        raise
    return store


def combined_blocks(store: Any, model_cls: Any, block_weight: str, where: str) -> dict[str, dict[str, Any]]:
    """The recipe's ``blocks`` / ``block_weight`` for the static and dynamic parts of a combined
    set ({} for a plain set). A model that does not scale its inputs (trees, neural heads) gets
    ``block_weight: none`` (said in the log and in model.json)."""
    if not isinstance(store, CombinedStore):
        return {}
    applied = block_weight if getattr(model_cls, "block_weighting", False) else "none"
    if applied != block_weight:
        log.warning("%s: train.combine.block_weight %s does not apply to this model (it does not scale its "
                    "inputs per column); its stores are joined unweighted", where, block_weight)
    return {"static": {"blocks": list(store.block_widths), "block_weight": applied},
            "dynamic": {"blocks": list(store.frame_widths), "block_weight": applied}}
