"""The ``moodflow`` command line."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def cmd_info(args: argparse.Namespace) -> int:
    """Print what a feature store holds, with its provenance."""
    from moodflow.store import FeatureStore

    with FeatureStore(args.store) as store:
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
            "sample_rate": attrs.get("sample_rate"),
            "created": attrs.get("created"),
            "config": attrs.get("config"),
            "versions": attrs.get("versions"),
        }
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            if isinstance(value, dict):
                value = json.dumps(value, sort_keys=True)
            print(f"{key:>16}: {value}")
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    """List the registered datasets, feature sets and models."""
    from moodflow.datasets import DATASETS
    from moodflow.features import EXTRACTORS
    from moodflow.models import MODELS

    for title, reg in (("datasets", DATASETS), ("feature sets", EXTRACTORS), ("models", MODELS)):
        print(f"{title}: {', '.join(reg.names())}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moodflow", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("info", help="what a feature store holds, with provenance")
    p.add_argument("store", type=Path)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=cmd_info)
    p = sub.add_parser("list", help="registered datasets, feature sets and models")
    p.set_defaults(func=cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (FileNotFoundError, ValueError, KeyError) as exc:
        print(f"moodflow: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
