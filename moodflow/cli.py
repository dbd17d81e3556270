"""The ``moodflow`` command line: score music (``predict``), inspect and check (``info``, ``check``,
``list``), share models (``export``), extract on clusters (``extract``), check downloads (``datasets``)."""
# This docstring and each command's are the --help descriptions, as plain text (help_text).

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
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
    from moodflow.core.terminal import for_terminal

    if args.json:
        from moodflow.core.atomic import finite, json_default

        print(json.dumps(finite(info), indent=2, default=json_default))
    else:
        for key, value in info.items():
            if isinstance(value, dict):
                value = json.dumps(value, sort_keys=True)
            if key == "check" and isinstance(value, list):
                value = "\n".join([f"{len(value)} problem(s)", *(f"{'':>18}{p}" for p in value)])
            elif isinstance(value, list):
                value = " x ".join(map(str, value))  # frame_shape: 260, MERT 13 x 768
            print(f"{key:>16}: {for_terminal(value, keep_newlines=True)}")  # a store's strings may hold escapes
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


def cmd_predict(args: argparse.Namespace) -> int:
    """Zero-shot mood tags and, with a trained model, valence/arousal (or any targets, a class, tags)
    of audio files, folders or globs.

    Without ``--model`` the last run's best model is used only when it was trained on a real
    dataset; otherwise predict gives the mood tags and says how to get valence/arousal. The
    demo's model (``--model models/compare/ridge``) is labelled toy in every format."""
    import warnings

    from moodflow.app.bundle import BundleError
    from moodflow.app.inputs import expand_inputs
    from moodflow.app.output import format_for, render
    from moodflow.app.predict import (
        DEFAULT_MODEL, TOY_BANNER, PredictError, Predictor, PredictorNote, outside_scale_notes, predict_files,
    )
    from moodflow.core.terminal import for_terminal

    fmt = format_for(args.output, args.format)
    files, input_errors = expand_inputs(args.audio)  # before any model is loaded
    if not files:
        for _, error in input_errors:
            print(f"moodflow: error: {for_terminal(error)}", file=sys.stderr)
        print("moodflow: error: no audio file to predict", file=sys.stderr)
        return 2
    try:
        with warnings.catch_warnings():  # said once below, as a moodflow line
            warnings.simplefilter("ignore", PredictorNote)
            predictor = Predictor(DEFAULT_MODEL if args.model is None else args.model, mood_tags=not args.no_tags,
                                  reports_dir=args.reports, models_dir=args.models)
    except (PredictError, BundleError, OSError, ValueError) as exc:
        print(f"moodflow: error: {for_terminal(exc)}", file=sys.stderr)
        return 2
    if args.dynamic and not predictor.has_dynamic:
        print(f"moodflow: error: {predictor.source or 'no model'}: this model has no dynamic part (train "
              "`dvc exp run -S train.dynamic=true` on a dataset with dynamic labels); "
              "drop --dynamic for per-song values", file=sys.stderr)
        return 2
    if predictor.note:
        print(f"moodflow: note: {for_terminal(predictor.note)}", file=sys.stderr)
    if predictor.is_toy:
        print(f"moodflow: warning: {TOY_BANNER}", file=sys.stderr)
    try:
        done, failed = predict_files(predictor, files, dynamic=args.dynamic)
    except PredictError as exc:  # the model itself failed to load
        print(f"moodflow: error: {for_terminal(exc)}", file=sys.stderr)
        return 2
    failed = input_errors + failed
    text = render(fmt, predictor, done, failed, args.dynamic)
    if args.output:
        from moodflow.core.atomic import write_text

        write_text(args.output, text)
        print(f"moodflow: wrote {len(done)} prediction(s) to {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    for note in outside_scale_notes(done, predictor.spec.get("scale") if predictor.manifest else None,
                                    predictor.scale_name, predictor.spec.get("target_scales") if predictor.manifest else None):
        print(f"moodflow: note: {for_terminal(note)}", file=sys.stderr)
    for _, error in failed:
        print(f"moodflow: error: {for_terminal(error)}", file=sys.stderr)
    return 1 if failed else 0


def cmd_export(args: argparse.Namespace) -> int:
    """Write a trained model folder as one self-contained, safe bundle file."""
    from moodflow.app.bundle import SUFFIX, export_bundle

    out = args.output or Path(f"{args.model.parent.name}-{args.model.name}{SUFFIX}")
    export_bundle(args.model, out)
    print(f"{out}: bundle of {args.model} (predict with `moodflow predict --model {out} AUDIO…`)")
    return 0


def cmd_extract(args: argparse.Namespace) -> int:
    """Extract one part (``--shard i/N``) of a feature set's tracks into the per-track cache.

    Settings come from params.yaml (``features.<set>``, ``features.grid``, ``cache_dir``,
    ``workers``) exactly as the ``extract@<set>`` stage reads them; a relative ``cache_dir`` or
    audio path is taken relative to the params file's folder (the repository root)."""
    from moodflow.core.config import build_from
    from moodflow.core.params import load_params
    from moodflow.extract.settings import ExtractSettings
    from moodflow.extract.shard import extract_shard, parse_shard
    from moodflow.features import EXTRACTORS

    index, count = parse_shard(args.shard)
    params = load_params(args.params)
    features = params.get("features") or {}
    if args.set not in EXTRACTORS.names():
        raise ValueError(f"{args.set!r}: not a feature set (registered: {', '.join(EXTRACTORS.names())})")
    settings = build_from(ExtractSettings, features, "features")
    root = args.params.resolve().parent
    sub = features.get(args.set)
    config = sub.to_dict() if hasattr(sub, "to_dict") else dict(sub or {})
    cache_dir = Path(settings.cache_dir) if settings.cache_dir else ""
    if cache_dir and not cache_dir.is_absolute():
        cache_dir = root / cache_dir
    audio = args.audio if args.audio.is_absolute() else root / args.audio
    if not audio.is_file():
        raise ValueError(f"{audio}: no decoded audio store (run `dvc repro decode` first)")
    from moodflow.core.errors import EnvironmentFailure, is_environment_error, one_line
    from moodflow.core.stage import EX_TEMPFAIL

    try:
        counts = extract_shard(name=args.set, config=config, grid=settings.grid, audio_path=audio, cache_dir=cache_dir,
                               index=index, count=count,
                               workers=args.workers if args.workers is not None else settings.workers)
    except Exception as exc:
        if not is_environment_error(exc) and not isinstance(exc, EnvironmentFailure):
            raise
        print(f"moodflow: error: extract {args.set} --shard {index}/{count}: {one_line(exc)} — a failure of the "
              f"machine; the tracks finished so far stay in {cache_dir}: run the same part again", file=sys.stderr)
        return EX_TEMPFAIL
    print(json.dumps({"set": args.set, "shard": f"{index}/{count}", **counts}))
    return 1 if counts["failed"] else 0


class _Version(argparse.Action):
    """``--version``: print :func:`version_text` unwrapped and exit."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help="show versions and exit"):
        super().__init__(option_strings=option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        print(version_text())
        parser.exit()


def version_text() -> str:
    """``moodflow X (python …; torch …, musicnn …)`` from the installed metadata (imports nothing)."""
    import platform
    from importlib import metadata

    from moodflow import __version__

    parts = []
    for name in ("numpy", "scikit-learn", "opensmile", "librosa", "torch", "musicnn"):
        try:
            parts.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{name} missing")
    return f"moodflow {__version__} (python {platform.python_version()}; {', '.join(parts)})"


def cmd_datasets_verify(args: argparse.Namespace) -> int:
    """Compare a downloaded dataset with its index: missing, corrupt and extra files, one table."""
    from moodflow.datasets import DATASETS
    from moodflow.datasets.verify import verify
    from moodflow.prepare.settings import DatasetSettings

    dataset = _dataset_params(args.params)
    name = args.name or dataset.get("name") or DatasetSettings().name
    root = args.root or dataset.get("root") or None
    config = dict(dataset.get(name) or {})
    if args.index:
        config["index"] = str(args.index)
    adapter = DATASETS.get(name)(root, config)
    found = adapter.verification_index()
    if found is None:
        print(f"moodflow: error: dataset {name!r} ships no index; pass --index FILE "
              "(`moodflow datasets index ROOT` writes one)", file=sys.stderr)
        return 2
    result = verify(found[0], found[1], quick=args.quick)
    from moodflow.core.terminal import for_terminal

    print(for_terminal(result.format_table(limit=args.limit), keep_newlines=True))
    if args.output:
        result.table.to_csv(args.output, index=False)
    if args.fetch_list:
        todo = result.table[result.table["status"].isin(["missing", "corrupt"])]["path"]
        Path(args.fetch_list).write_text("".join(f"{p}\n" for p in todo))
        print(f"{len(todo)} path(s) to download written to {args.fetch_list}")
    return 0 if result.ok else 1


def cmd_datasets_index(args: argparse.Namespace) -> int:
    """Write an index (path, size, md5, duration) of the files under a folder."""
    from moodflow.datasets.verify import make_index

    if not args.root.is_dir():
        print(f"moodflow: error: {args.root} is not a folder", file=sys.stderr)
        return 2
    table = make_index(args.root)
    if args.output:
        table.to_csv(args.output, index=False)
        print(f"{len(table)} file(s) indexed into {args.output}")
    else:
        table.to_csv(sys.stdout, index=False)
    return 0


def _dataset_params(path: Path) -> dict:
    """The ``dataset`` section of params.yaml when the file exists (else empty)."""
    if not path.is_file():
        return {}
    from moodflow.core.params import load_params

    return dict(load_params(path).to_dict().get("dataset") or {})


def help_text(doc: str | None) -> str:
    """A docstring as ``--help`` shows it: reST literals (````x````) and roles (``:func:`x```) as
    plain text, the first paragraph's lines joined, later paragraphs kept."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", r"\1", doc or "")
    text = re.sub(r"``([^`]+)``", r"\1", text)
    paragraphs = [" ".join(line.strip() for line in part.splitlines()) for part in re.split(r"\n\s*\n", text.strip())]
    return "\n\n".join(textwrap.fill(p, 88) for p in paragraphs if p)


def _describe(subparsers: argparse.Action) -> None:
    """Each subcommand's ``--help`` description: its function's docstring, as plain text."""
    for parser in subparsers.choices.values():
        func = parser.get_default("func")
        if parser.description is None and func is not None and func.__doc__:
            parser.description = help_text(func.__doc__)
            parser.formatter_class = argparse.RawDescriptionHelpFormatter


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="moodflow", description=help_text(__doc__),
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action=_Version)
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
    p = sub.add_parser("predict", help="the model's targets (valence/arousal or any), class, tags and zero-shot "
                                       "mood tags of audio files")
    p.add_argument("audio", nargs="+", help="audio files, folders (searched recursively) or quoted glob patterns ('**/*.mp3')")
    p.add_argument("--model", type=Path, default=None,
                   help="trained model folder or NAME.moodflow bundle (default: the last run's best model, per "
                        "reports/metrics.json, when it was trained on a real dataset; else mood tags only)")
    p.add_argument("-o", "--output", type=Path, default=None, help="write to this file (.csv or .json) instead of stdout")
    p.add_argument("--format", choices=("table", "json", "csv"), default=None, help="default: from -o's suffix, else table")
    p.add_argument("--dynamic", action="store_true", help="also the curve over time (needs a dynamic model)")
    p.add_argument("--no-tags", action="store_true", help="skip the zero-shot musicnn mood tags (faster start)")
    p.add_argument("--version", action=_Version)
    p.add_argument("--reports", type=Path, default=Path("reports"), help=argparse.SUPPRESS)
    p.add_argument("--models", type=Path, default=Path("models"), help=argparse.SUPPRESS)
    p.set_defaults(func=cmd_predict)
    p = sub.add_parser("datasets", help="check a downloaded dataset against its index (docs/datasets.md)")
    dsub = p.add_subparsers(dest="datasets_command", required=True)
    q = dsub.add_parser("verify", help="missing, corrupt and extra files of a dataset, in one table")
    q.add_argument("--name", default=None, help="dataset adapter (default: dataset.name of params.yaml)")
    q.add_argument("--root", default=None, help="the downloaded folder (default: dataset.root of params.yaml)")
    q.add_argument("--index", type=Path, default=None, help="index CSV (path,size,md5,duration_s) or a sha256 list")
    q.add_argument("--quick", action="store_true", help="presence and size only: read no file")
    q.add_argument("-o", "--output", type=Path, default=None, help="also write the table as CSV")
    q.add_argument("--fetch-list", type=Path, default=None, help="write the missing/corrupt paths, one a line")
    q.add_argument("--limit", type=int, default=50, help="rows to print (the CSV has all)")
    q.add_argument("--params", type=Path, default=Path("params.yaml"), help=argparse.SUPPRESS)
    q.set_defaults(func=cmd_datasets_verify)
    q = dsub.add_parser("index", help="write an index (path, size, md5, duration) of a folder's files")
    q.add_argument("root", type=Path)
    q.add_argument("-o", "--output", type=Path, default=None, help="index CSV (default: stdout)")
    q.set_defaults(func=cmd_datasets_index)
    p = sub.add_parser("extract", help="one part of a feature set's tracks into the per-track cache (clusters)")
    p.add_argument("set", help="feature set (features.<set> in params.yaml)")
    p.add_argument("--shard", default="0/1", help="part i of N, numbered from 0 (e.g. $SLURM_ARRAY_TASK_ID/100)")
    p.add_argument("--params", type=Path, default=Path("params.yaml"))
    p.add_argument("--audio", type=Path, default=Path("data/audio.h5"), help="decoded audio store (`dvc repro decode`)")
    p.add_argument("--workers", type=int, default=None, help="cores for this part (default: features.workers)")
    p.set_defaults(func=cmd_extract)
    p = sub.add_parser("export", help="a trained model folder as one safe, self-contained NAME.moodflow bundle")
    p.add_argument("model", type=Path, help="models/<set>/<model>")
    p.add_argument("-o", "--output", type=Path, default=None, help="bundle file (default: <set>-<model>.moodflow)")
    p.set_defaults(func=cmd_export)
    _describe(sub)
    _describe(dsub)
    return parser


def _add_debug(parser: argparse.ArgumentParser, top: bool = True) -> None:
    """``--debug`` on the command and on every subcommand (before or after its arguments)."""
    parser.add_argument("--debug", action="store_true", default=False if top else argparse.SUPPRESS,
                        help="show the full traceback of an error (also MOODFLOW_DEBUG=1)")
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                _add_debug(sub, top=False)


def _subject(args: argparse.Namespace) -> str:
    """What a command works on, for the one-line message of an unexpected error."""
    command = " ".join(str(part) for part in (args.command, getattr(args, "datasets_command", None)) if part)
    for key in ("model", "store", "params", "set", "index", "root", "audio"):
        value = getattr(args, key, None)
        if value not in (None, [], ""):
            shown = " ".join(map(str, value[:3])) + (" …" if len(value) > 3 else "") if isinstance(value, list) else value
            return f"{command} {shown}"
    return command


def error_exit(exc: BaseException, subject: str) -> int:
    """Print ``exc`` as one line and return the exit status: 75 for a failure of the machine,
    2 for an input or setting moodflow refused, 1 for anything unexpected."""
    from moodflow.core.errors import (
        EnvironmentFailure, environment_message, is_environment_error, unexpected_message, working_on,
    )
    from moodflow.core.stage import EX_TEMPFAIL
    from moodflow.core.terminal import for_terminal

    if isinstance(exc, EnvironmentFailure):  # already names what failed
        message, status = environment_message(exc), EX_TEMPFAIL
    elif is_environment_error(exc):
        message, status = f"{working_on(exc) or subject}: {environment_message(exc, staged=False)}", EX_TEMPFAIL
    elif isinstance(exc, USER_ERRORS) or (isinstance(exc, KeyError) and ": " in str(exc.args[0] if exc.args else "")):
        message, status = str(exc.args[0] if isinstance(exc, KeyError) else exc), 2  # a bare KeyError is a bug
    else:
        message, status = f"{unexpected_message(exc, subject)} (--debug shows the traceback)", 1
    print(f"moodflow: error: {for_terminal(message, keep_newlines=True)}", file=sys.stderr)
    return status


def main(argv: list[str] | None = None) -> int:
    """Run one ``moodflow`` command behind one error boundary: every error is one line naming what
    it was working on (``--debug`` or ``MOODFLOW_DEBUG=1`` for the traceback); a failure of the
    machine (disk full, out of memory, I/O) exits 75; Ctrl-C exits 130 (and, once a bundle is
    unpacked, SIGTERM 143), after cleaning up."""
    import os

    parser = build_parser()
    _add_debug(parser)
    args = parser.parse_args(argv)
    debug = bool(getattr(args, "debug", False) or os.environ.get("MOODFLOW_DEBUG"))
    try:
        return args.func(args)
    except BrokenPipeError:  # output piped into e.g. `head`, which closed early
        sys.stderr.close()
        return 0
    except KeyboardInterrupt:
        if debug:
            raise
        print("moodflow: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the boundary: one line, never a traceback
        if debug:
            raise
        return error_exit(exc, _subject(args))


if __name__ == "__main__":
    sys.exit(main())
