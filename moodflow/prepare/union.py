"""Several prepared datasets as one (a joint experiment): qualified ids, one label space.

Every member keeps its tracks, splits and label kinds; ids become ``<dataset>/<id>``; static
regression labels move onto 1–9 and dynamic labels onto −1..1 (``moodflow.stores.labelspace``);
class and tag columns are the union of the members' (NaN where a member has none). The member
list, each one's native scales and counts go into ``dataset.json`` → ``info.members``, which is
how training maps every prediction back to its dataset's own scale.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from moodflow.stores.labelspace import (
    DYNAMIC_SCALE, DYNAMIC_SCALE_NAME, STATIC_SCALE, STATIC_SCALE_NAME, joint_name, qualify, rescale,
)
from moodflow.stores.prepared import LabelSpec, PreparedDataset


def _ordered_union(lists: list[list[str]]) -> list[str]:
    return list(dict.fromkeys(x for items in lists for x in items))


def joint_spec(specs: list[LabelSpec]) -> LabelSpec:
    """The label spec of the union: every member's targets, classes and tags on one scale."""
    classed = [s for s in specs if s.task == "classification" or s.class_column]
    columns = {s.class_column for s in classed}
    if len(columns) > 1:
        raise ValueError(f"joint datasets: members classify different columns {sorted(columns)}; "
                         "one class column at most")
    static = _ordered_union([s.static_targets for s in specs])
    dynamic = _ordered_union([s.dynamic_targets for s in specs])
    tags = _ordered_union([s.tags for s in specs])
    task = "regression" if static else "tagging" if tags else "classification"
    hops = {s.dynamic_hop_s for s in specs if s.dynamic_targets}
    return LabelSpec(
        task=task, static_targets=static, dynamic_targets=dynamic,
        scale=STATIC_SCALE if static else None, scale_name=STATIC_SCALE_NAME if static else "",
        class_column=classed[0].class_column if classed else None,
        classes=_ordered_union([[str(c) for c in s.classes] for s in classed]),
        tags=tags, dynamic_hop_s=min(hops) if hops else None,
        dynamic_scale=DYNAMIC_SCALE if dynamic else None, dynamic_scale_name=DYNAMIC_SCALE_NAME if dynamic else "",
    )


def _qualified(frame: pd.DataFrame | None, name: str) -> pd.DataFrame | None:
    if frame is None:
        return None
    out = frame.copy()
    out["track_id"] = [qualify(name, t) for t in out["track_id"].astype(str)]
    return out


def _rescaled(frame: pd.DataFrame, columns: list[str], source: tuple | None, target: tuple) -> pd.DataFrame:
    if source is None or tuple(source) == tuple(target):
        return frame
    for col in columns:
        if col in frame.columns:
            frame[col] = rescale(frame[col].to_numpy(dtype=float), tuple(source), target)
    return frame


def _member(part: PreparedDataset) -> dict[str, Any]:
    spec = part.spec
    dynamic_scale = spec.dynamic_scale or (spec.scale if spec.dynamic_targets else None)
    return {
        "scale": list(spec.scale) if spec.scale and spec.static_targets else None,
        "scale_name": spec.scale_name if spec.static_targets else "",
        "dynamic_scale": list(dynamic_scale) if dynamic_scale else None,
        "dynamic_scale_name": spec.dynamic_scale_name or spec.scale_name if dynamic_scale else "",
        "task": spec.task, "static_targets": list(spec.static_targets), "dynamic_targets": list(spec.dynamic_targets),
        "tags": list(spec.tags), "class_column": spec.class_column, "classes": [str(c) for c in spec.classes],
        "n_tracks": len(part.manifest), "n_static_labels": len(part.static_labels),
        "has_splits": part.splits is not None and len(part.splits) > 0,
        **({"derived": part.info["derived"]} if part.info.get("derived") else {}),
    }


def union_prepared(parts: list[PreparedDataset], audio_prefixes: list[str] | None = None) -> PreparedDataset:
    """One prepared dataset holding every member; ``audio_prefixes`` (one per member) are put in
    front of relative audio paths (members prepared in sub-folders of the joint folder)."""
    names = [p.name for p in parts]
    if len(set(names)) != len(names):
        raise ValueError(f"dataset.name lists a dataset twice: {names}")
    unscaled = [p.name for p in parts if p.spec.static_targets and len(p.static_labels) and not p.spec.scale]
    if unscaled:
        raise ValueError(f"joint datasets: {unscaled} declare no label scale, so their labels cannot be put on the "
                         "training scale; set dataset.<name>.scale (e.g. [0, 1])")
    spec = joint_spec([p.spec for p in parts])
    manifests, static, dynamic, splits, members, native = [], [], [], [], {}, {}
    for i, part in enumerate(parts):
        manifest = _qualified(part.manifest, part.name)
        prefix = (audio_prefixes or [""] * len(parts))[i]
        if prefix:
            manifest["audio_path"] = [p if Path(p).is_absolute() else f"{prefix}/{p}"
                                      for p in manifest["audio_path"].astype(str)]
        manifests.append(manifest.assign(dataset=part.name))
        static.append(_rescaled(_qualified(part.static_labels, part.name), part.spec.static_targets,
                                part.spec.scale, STATIC_SCALE))
        if part.dynamic_labels is not None:
            source = part.spec.dynamic_scale or part.spec.scale
            dynamic.append(_rescaled(_qualified(part.dynamic_labels, part.name), part.spec.dynamic_targets,
                                     source, DYNAMIC_SCALE))
        if part.splits is not None:
            splits.append(_qualified(part.splits, part.name))
        members[part.name] = _member(part)
        native[part.name] = (part.info.get("native_audio") or {}).get("sample_rate")
    info: dict[str, Any] = {"members": members, "training_scale": {"static": list(STATIC_SCALE),
                                                                   "dynamic": list(DYNAMIC_SCALE)}}
    rates = set(native.values())
    if len(rates) == 1 and None not in rates:  # one declared native rate for all: decode at it
        info["native_audio"] = parts[0].info["native_audio"]
    for part in parts:
        if part.info.get("provided_features"):
            info.setdefault("member_provided_features", {})[part.name] = part.info["provided_features"]
    return PreparedDataset(
        joint_name(names), pd.concat(manifests, ignore_index=True), pd.concat(static, ignore_index=True),
        spec, dynamic_labels=pd.concat(dynamic, ignore_index=True) if dynamic else None,
        splits=pd.concat(splits, ignore_index=True) if splits else None, info=info,
    )
