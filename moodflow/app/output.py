"""``moodflow predict`` output: a table, CSV or JSON on stdout or in a file (``-o out.csv|json``).

Every format carries the label scale and the model's provenance: JSON at its top (``model``:
source, dataset, feature set, model, protocol, held-out score, scale, toy flag), CSV in columns
of every row (``scale``, ``dataset``, ``feature_set``, ``model``, ``protocol``, ``heldout``,
``toy_model``), the table in its header lines.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

FORMATS = ("table", "json", "csv")
_SCORE_KEYS = ("r2", "macro_f1", "accuracy", "roc_auc", "pr_auc")  # the first one a task has


def outside_scale_notes(predictions: list, scale: list[float] | tuple[float, float] | None,
                        scale_name: str = "", target_scales: dict[str, Any] | None = None) -> list[str]:
    """A note per file whose predicted values fall outside the training labels' range
    (``target_scales``: a target's own range, where it has one).

    Such values are kept as predicted (clipping would hide it): they say the model
    extrapolates, i.e. the music is unlike what it was trained on.
    """
    own = {k: (float(v[0]), float(v[1])) for k, v in (target_scales or {}).items()}
    if not scale and not own:
        return []
    notes = []
    for p in predictions:
        outside = []
        for k, v in p.values.items():
            rng = own.get(k) or ((float(scale[0]), float(scale[1])) if scale else None)
            if rng is not None and isinstance(v, float) and not rng[0] <= v <= rng[1]:
                outside.append((k, v, rng))
        if outside:
            single = scale and not own
            values = ", ".join(f"{k} {v:.2f}" + ("" if single else f" (range {lo:g}..{hi:g})")
                               for k, v, (lo, hi) in outside)
            where = f"the {scale_name or f'{scale[0]:g}..{scale[1]:g}'} range" if single else "the ranges"
            notes.append(f"{p.path}: {values} outside {where} of the "
                         "training labels: the model extrapolates (this music is unlike its training data)")
    return notes


def heldout_summary(metrics: dict[str, Any]) -> dict[str, dict[str, dict[str, float]]]:
    """The headline held-out score per task and target (R², macro F1, ROC-AUC …, mean ± std)."""
    out: dict[str, dict[str, dict[str, float]]] = {}
    for task, targets in (metrics or {}).items():
        for target, values in (targets or {}).items():
            if not isinstance(values, dict):
                continue
            key = next((k for k in _SCORE_KEYS if values.get(k) is not None), None)
            if key is not None:
                entry = {"metric": key, "mean": values[key], "std": values.get(f"{key}_std"),
                         "n_folds": values.get("n_folds")}
                out.setdefault(task, {})[target] = entry
    return out


def format_for(path: Path | None, asked: str | None) -> str:
    """The output format: ``--format`` when given, else the file's suffix, else a table."""
    if asked:
        return asked
    if path is not None and path.suffix.lower().lstrip(".") in ("json", "csv"):
        return path.suffix.lower().lstrip(".")
    if path is not None:
        raise ValueError(f"{path}: cannot tell the format from the suffix; use .csv or .json or pass --format")
    return "table"


def heldout_text(heldout: dict[str, Any]) -> str:
    """``static valence r2 0.64±0.14; …`` from :func:`moodflow.app.predict.heldout_summary`."""
    parts = []
    for task, targets in heldout.items():
        for target, e in targets.items():
            std = f"±{e['std']:.2f}" if isinstance(e.get("std"), float) else ""
            parts.append(f"{task} {target} {e['metric']} {e['mean']:.2f}{std}")
    return "; ".join(parts)


def protocol_text(protocol: dict[str, Any] | None) -> str:
    p = protocol or {}
    if not p:
        return ""
    if p.get("kind") in ("kfold", "stratified", "auto"):
        return f"{p.get('kind')} {p.get('folds')} folds x {p.get('repeats', 1)}"
    return str(p.get("kind"))


def _provenance_columns(predictor) -> dict[str, Any]:
    m = predictor.provenance().get("model") or {}
    return {"scale": predictor.scale_name, "dataset": m.get("dataset", ""), "feature_set": m.get("feature_set", ""),
            "model": m.get("model", ""), "protocol": protocol_text(m.get("protocol")),
            "heldout": heldout_text(m.get("heldout") or {}), "toy_model": m.get("toy_model", "")}


def flat_rows(predictor, predictions: list, dynamic: bool) -> tuple[list[str], list[list[Any]]]:
    """CSV/table rows: one per file (static), plus one per frame with ``dynamic``."""
    static_keys = list(dict.fromkeys(k for p in predictions for k in p.values))
    classes = list(dict.fromkeys(k for p in predictions for k in p.class_scores))
    has_class = any(p.predicted_class is not None for p in predictions)
    prob = all(p.scores_are_probabilities for p in predictions)
    tag_keys = list(dict.fromkeys(k for p in predictions for k in p.tags))
    mood_keys = list(dict.fromkeys(k for p in predictions for k in p.mood_tags))
    prov = _provenance_columns(predictor) if predictor.manifest else {}
    header = (["path", "time_s", *static_keys] + (["class"] if has_class else [])
              + [f"{'p' if prob else 'score'}_{c}" for c in classes] + [f"tag_{t}" for t in tag_keys]
              + [f"mood_{t.replace(' ', '_')}" for t in mood_keys] + list(prov))
    rows = []
    for p in predictions:
        rows.append([p.path, "", *[p.values.get(k, "") for k in static_keys]]
                    + ([p.predicted_class or ""] if has_class else []) + [p.class_scores.get(c, "") for c in classes]
                    + [p.tags.get(t, "") for t in tag_keys] + [p.mood_tags.get(t, "") for t in mood_keys]
                    + list(prov.values()))
        if dynamic:
            for i, t in enumerate(p.times_s):
                rows.append([p.path, t, *[p.curve[k][i] if k in p.curve else "" for k in static_keys]]
                            + ([""] if has_class else []) + ["" for _ in classes] + ["" for _ in tag_keys]
                            + ["" for _ in mood_keys] + list(prov.values()))
    return header, rows


def json_document(predictor, predictions: list, errors: list[tuple[str, str]], dynamic: bool) -> dict[str, Any]:
    """The JSON output: provenance, scale, predictions, errors."""
    return {
        "moodflow_version": _version(),
        **predictor.provenance(),
        "scale": predictor.scale_name or None,
        "dynamic_scale": predictor.dynamic_scale_name if dynamic else None,
        "predictions": [p.to_dict() for p in predictions],
        "errors": [{"path": p, "error": e} for p, e in errors],
    }


def render(fmt: str, predictor, predictions: list, errors: list[tuple[str, str]], dynamic: bool) -> str:
    """The whole output as text in ``fmt``."""
    if fmt == "json":  # strict JSON: a NaN or infinity becomes null
        from moodflow.core.atomic import finite as _finite

        return json.dumps(_finite(json_document(predictor, predictions, errors, dynamic)), indent=2,
                          allow_nan=False) + "\n"
    header, rows = flat_rows(predictor, predictions, dynamic)
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(rows)
        return buf.getvalue()
    return table_text(predictor, header, rows, dynamic)


def table_text(predictor, header: list[str], rows: list[list[Any]], dynamic: bool) -> str:
    lines = []
    m = predictor.provenance().get("model")
    if m:
        toy = "TOY MODEL, trained on the synthetic demo, not on music: " if m.get("toy_model") else ""
        lines.append(f"model: {toy}{m['source']} ({m['model']} on {m['feature_set']}, trained on {m['dataset']}; "
                     f"{protocol_text(m.get('protocol'))}; held-out {heldout_text(m.get('heldout') or {}) or 'n/a'})")
        lines += _meaning_lines(predictor, header, dynamic)
    if predictor.tagger is not None:
        lines.append("mood_*: zero-shot musicnn (MSD) tag probabilities, 0-1")
    keep = [i for i, h in enumerate(header) if h not in ("scale", "dataset", "feature_set", "model", "protocol",
                                                           "heldout", "toy_model")]
    from moodflow.core.terminal import for_terminal  # names (paths, classes, tags) may hold escape sequences

    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) else for_terminal(v)  # noqa: E731
    table = [[fmt(header[i]) for i in keep]] + [[fmt(r[i]) for i in keep] for r in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(keep))]
    lines = [for_terminal(line) for line in lines]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in table]
    return "\n".join(lines) + "\n"


def _meaning_lines(predictor, header: list[str], dynamic: bool) -> list[str]:
    """What the columns hold: values on a scale (regression only: a class or a tag has none),
    the class and its probabilities or decision values, the model's tag probabilities."""
    lines = []
    if predictor.scale_name:
        own = predictor.spec.get("target_scales") or {}
        lines.append(f"values on the {predictor.scale_name} scale"
                     + "".join(f", {t} on {lo:g}..{hi:g}" for t, (lo, hi) in own.items() if t in header)
                     + (f", curves on {predictor.dynamic_scale_name}" if dynamic else ""))
    if "class" in header:
        scores = ("p_*: class probabilities" if any(h.startswith("p_") for h in header)
                  else "score_*: decision values, not probabilities")
        lines.append(f"class: the predicted {predictor.spec.get('class_column') or 'class'}; {scores}")
    if any(h.startswith("tag_") for h in header):
        lines.append("tag_*: the model's tag probabilities, 0-1")
    return lines


def _version() -> str:
    from moodflow import __version__

    return __version__
