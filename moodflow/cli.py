"""The ``moodflow`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from moodflow.core.errors import USER_ERRORS


def cmd_info(args: argparse.Namespace) -> int:
    """Print what a feature store holds, with its provenance; ``--check`` also reads every value.

    Opening a store checks its structure (no links or external storage, dtypes, shapes,
    offsets, unique ids); a store that fails is one error line (exit 2), a store whose values
    fail ``--check`` lists each problem (exit 1)."""
    from moodflow.stores.feature_store import FeatureStore

    with FeatureStore(args.store) as store:
        problems = store.deep_check() if args.check else []
        attrs = store.attrs
        n_frames = int(store.offsets[-1])
        failed = int(sum(1 for row in store.static() if not (row == row).any()))
        info = {
            "path": str(store.path),
            "schema": f"{attrs.get('schema')} v{attrs.get('schema_version')}",
            "dataset": attrs.get("dataset"),
            "extractor": f"{attrs.get('extractor')} (version {attrs.get('extractor_version')})",
            "tracks": len(store.ids),
            "failed_tracks": failed,
            "static_features": len(store.feature_names),
            "frames": n_frames,
            "frame_shape": list(store.frame_shape),
            "sample_rate": int(attrs.get("sample_rate", 0)),
            **({"created": attrs["created"]} if "created" in attrs else {}),
            "config": attrs.get("config"),
            "versions": attrs.get("versions"),
            **({"check": problems or "ok"} if args.check else {}),
        }
    if args.json:
        from moodflow.core.atomic import _finite, _json_default

        print(json.dumps(_finite(info), indent=2, default=_json_default))
    else:
        for key, value in info.items():
            if isinstance(value, dict):
                value = json.dumps(value, sort_keys=True)
            if isinstance(value, list):
                value = "\n".join([f"{len(value)} problem(s)", *(f"{'':>18}{p}" for p in value)])
            print(f"{key:>16}: {value}")
    return 1 if problems else 0


def cmd_check(args: argparse.Namespace) -> int:
    """Validate params.yaml: every section with its typed settings, every name registered."""
    from moodflow.check.validate import validate_params
    from moodflow.core.params import load_params

    summary = validate_params(load_params(args.params).to_dict())
    parts = "; ".join(f"{k}: {', '.join(v) if isinstance(v, list) else v}" for k, v in summary.items())
    print(f"{args.params}: ok ({parts})")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """List the registered datasets, feature sets and models."""
    from moodflow.datasets import DATASETS
    from moodflow.features import EXTRACTORS
    from moodflow.models import MODELS

    for title, reg in (("datasets", DATASETS), ("feature sets", EXTRACTORS), ("models", MODELS)):
        print(f"{title}: {', '.join(reg.names())}")
    return 0


def _predict_rows(predictions, dynamic: bool) -> tuple[list[str], list[list]]:
    """CSV/table rows: one per file (static), plus one per frame with --dynamic."""
    static_keys = list(dict.fromkeys(k for p in predictions for k in p.values))
    tag_keys = list(dict.fromkeys(k for p in predictions for k in p.tags))
    has_class = any(p.predicted_class is not None for p in predictions)
    header = ["path", "time_s", *static_keys] + (["class"] if has_class else []) + [f"tag_{t}" for t in tag_keys]
    rows = []
    for p in predictions:
        rows.append([p.path, "", *[p.values.get(k, "") for k in static_keys]]
                    + ([p.predicted_class or ""] if has_class else []) + [p.tags.get(t, "") for t in tag_keys])
        if dynamic:
            for i, t in enumerate(p.times_s):
                rows.append([p.path, t, *[p.curve[k][i] if k in p.curve else "" for k in static_keys]]
                            + ([""] if has_class else []) + ["" for _ in tag_keys])
    return header, rows


def cmd_predict(args: argparse.Namespace) -> int:
    """Valence/arousal (and class / tags) of audio files with a trained model."""
    import csv

    from moodflow.predict import PredictError, Predictor, best_model_dir, outside_scale_notes, predict_files

    try:
        folder = args.model or best_model_dir(args.reports, args.models)
        predictor = Predictor(folder)
    except PredictError as exc:
        print(f"moodflow: error: {exc}", file=sys.stderr)
        return 2
    if args.dynamic and predictor.dynamic is None:
        print(f"moodflow: error: {folder}: this model has no dynamic part (train "
              "`dvc exp run -S train.dynamic=true` on a dataset with dynamic labels); "
              "drop --dynamic for per-song values", file=sys.stderr)
        return 2
    done, failed = predict_files(predictor, args.audio, dynamic=args.dynamic)
    scale = predictor.scale_name
    if args.format == "json":
        print(json.dumps({
            "model": str(folder), "dataset": predictor.manifest.get("dataset"),
            "feature_set": predictor.manifest.get("feature_set"), "scale": scale,
            "dynamic_scale": predictor.dynamic_scale_name if args.dynamic else None,
            "predictions": [p.to_dict() for p in done],
            "errors": [{"path": p, "error": e} for p, e in failed],
        }, indent=2))
    else:
        header, rows = _predict_rows(done, args.dynamic)
        if args.format == "csv":
            writer = csv.writer(sys.stdout, lineterminator="\n")
            writer.writerow(header)
            writer.writerows(rows)
        else:
            print(f"model: {folder} ({predictor.manifest.get('model')} on {predictor.manifest.get('feature_set')}, "
                  f"trained on {predictor.manifest.get('dataset')}); values on the {scale or 'model'} scale"
                  + (f", curves on {predictor.dynamic_scale_name}" if args.dynamic else ""))
            fmt = lambda v: f"{v:.3f}" if isinstance(v, float) else str(v)  # noqa: E731
            table = [header] + [[fmt(c) for c in r] for r in rows]
            widths = [max(len(str(r[i])) for r in table) for i in range(len(header))]
            for r in table:
                print("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())
    for note in outside_scale_notes(done, predictor.spec.get("scale"), scale):
        print(f"moodflow: note: {note}", file=sys.stderr)
    for path, error in failed:
        print(f"moodflow: error: {error}", file=sys.stderr)
    return 1 if failed else 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moodflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="what a feature store holds, with provenance")
    p.add_argument("store", type=Path)
    p.add_argument("--json", action="store_true")
    p.add_argument("--check", action="store_true", help="also read every value and report what is wrong")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("check", help="validate params.yaml (every setting, every name) before a run")
    p.add_argument("params", nargs="?", type=Path, default=Path("params.yaml"))
    p.set_defaults(func=cmd_check)
    p = sub.add_parser("list", help="registered datasets, feature sets and models")
    p.set_defaults(func=cmd_list)
    p = sub.add_parser("predict", help="valence/arousal (and class, tags) of audio files")
    p.add_argument("audio", nargs="+", type=Path, help="audio files (any length the decoder reads)")
    p.add_argument("--model", type=Path, default=None,
                   help="trained model folder (default: the best model of the last run, per reports/metrics.json)")
    p.add_argument("--format", choices=("table", "json", "csv"), default="table")
    p.add_argument("--dynamic", action="store_true", help="also the curve over time (needs a dynamic model)")
    p.add_argument("--reports", type=Path, default=Path("reports"), help=argparse.SUPPRESS)
    p.add_argument("--models", type=Path, default=Path("models"), help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_predict)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (*USER_ERRORS, KeyError) as exc:
        print(f"moodflow: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        sys.stderr.close()
        return 0


if __name__ == "__main__":
    sys.exit(main())
