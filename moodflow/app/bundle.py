"""Model bundles: one ``NAME.moodflow`` file that predicts on another machine.

A bundle is a ZIP archive (entries sorted, fixed times and permissions, so the same model folder
gives the same bytes) holding ``bundle.json`` and the model folder's files: ``model.json`` (the
manifest: model, label scale, feature set + its full config, training summary, versions),
``metrics.json`` and the weights in moodflow's safe formats (skops with trusted types, XGBoost
JSON/UBJ, safetensors + JSON). Nothing in it is ever unpickled. ``bundle.json`` lists every
member with its SHA-256 and records what the features need: extractor name and version, the
full extractor config (with checkpoint hashes where there are weights), the feature-name
digest and the versions of the packages that compute them.

Opening a bundle checks the archive (only listed, plain, relative members; hashes; sizes) and
then that this machine's extractor reproduces the recorded features — same extractor version,
same config, same feature names — and refuses it with the reason otherwise.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
import zipfile
from pathlib import Path, PurePosixPath
from typing import Any

FORMAT = "moodflow.bundle"
FORMAT_VERSION = 1
SUFFIX = ".moodflow"
MAX_BYTES = 4 << 30  # uncompressed, all members together
# held-out diagnostics (predictions, tuning candidates, importance, attention): large, not needed to predict
_SKIPPED = {"predictions.csv", "confusion.csv", "tuning.csv", "importance.csv", "attention.csv"}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class BundleError(ValueError):
    """A bundle that is not well formed or cannot be reproduced here; the message says why."""


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def feature_record(manifest: dict[str, Any]) -> dict[str, Any]:
    """What reproducing the model's features needs, from this machine's extractor."""
    from moodflow.core.versions import package_versions
    from moodflow.stores.feature_store import names_digest
    from moodflow.features import EXTRACTORS, build_extractor
    from moodflow.app.predict import feature_settings

    name, settings, grid = feature_settings(manifest)
    extractor = build_extractor(name, settings, grid)
    versions = package_versions(extractor.packages)
    return {
        "extractor": name,
        "extractor_version": str(EXTRACTORS.get(name).version),
        "config": _normal(extractor.config_dict()),
        "feature_names_sha": names_digest(extractor.feature_names()),
        "packages": {p: versions.get(p) for p in extractor.packages},
    }


def _normal(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def export_bundle(folder: str | Path, out: str | Path) -> Path:
    """Write ``folder`` (a trained model folder) as one bundle file ``out``; returns its path."""
    from moodflow.core.atomic import atomic_path
    from moodflow.models.io import read_manifest

    folder, out = Path(folder), Path(out)
    manifest = read_manifest(folder)
    if manifest.get("feature_names_sha") is None:
        raise BundleError(f"{folder / 'model.json'}: no feature_names_sha (retrain with this moodflow)")
    record = feature_record(manifest)
    if record["feature_names_sha"] != manifest["feature_names_sha"]:
        raise BundleError(f"{folder}: this machine's {record['extractor']} extractor gives other feature names "
                          "than the model was trained on; export it where it was trained")
    members: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            raise BundleError(f"{path}: a link; a bundle holds plain files only")
        if path.is_file() and rel not in _SKIPPED and "__pycache__" not in rel:
            members[rel] = path.read_bytes()
    from moodflow import __version__

    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "moodflow_version": __version__,
        "model": {k: manifest.get(k) for k in ("model", "feature_set", "dataset", "task", "targets", "protocol")},
        "label_spec": manifest.get("label_spec"), "metrics": manifest.get("metrics"),
        "features": record,
        "files": {name: _sha256(data) for name, data in members.items()},
    }
    members["bundle.json"] = (json.dumps(_normal(meta), indent=2, sort_keys=True) + "\n").encode()
    with atomic_path(out) as tmp:
        with zipfile.ZipFile(tmp, "w") as zf:
            for name in sorted(members):
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o100644 << 16
                info.create_system = 3
                zf.writestr(info, members[name])
    return out


def _read_members(path: Path) -> tuple[dict[str, Any], dict[str, bytes]]:
    if not path.is_file():
        raise BundleError(f"{path}: not found")
    if not zipfile.is_zipfile(path):
        raise BundleError(f"{path}: not a moodflow bundle (not a ZIP archive)")
    with zipfile.ZipFile(path) as zf:
        infos = zf.infolist()
        if sum(i.file_size for i in infos) > MAX_BYTES:
            raise BundleError(f"{path}: members add up to more than {MAX_BYTES >> 30} GiB uncompressed")
        names = [i.filename for i in infos]
        if "bundle.json" not in names:
            raise BundleError(f"{path}: no bundle.json (not a moodflow bundle)")
        try:
            meta = json.loads(zf.read("bundle.json"))
        except (ValueError, UnicodeDecodeError) as exc:
            raise BundleError(f"{path}: bundle.json is not JSON ({exc})") from exc
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise BundleError(f"{path}: bundle.json is not a {FORMAT} header")
        if int(meta.get("format_version", 0)) > FORMAT_VERSION:
            raise BundleError(f"{path}: bundle format {meta.get('format_version')} is newer than this moodflow "
                              f"reads ({FORMAT_VERSION}); upgrade moodflow")
        listed = meta.get("files")
        if not isinstance(listed, dict) or "model.json" not in listed:
            raise BundleError(f"{path}: bundle.json lists no model.json")
        members = {}
        for info in infos:
            name = info.filename
            if name == "bundle.json":
                continue
            pure = PurePosixPath(name)
            mode = (info.external_attr >> 16) & 0o170000
            if (name not in listed or pure.is_absolute() or ".." in pure.parts or "\\" in name
                    or info.is_dir() or mode not in (0, 0o100000)):
                raise BundleError(f"{path}: member {name!r} is not a plain file listed in bundle.json")
            data = zf.read(info)
            if _sha256(data) != listed[name]:
                raise BundleError(f"{path}: member {name!r} does not match its SHA-256 in bundle.json")
            members[name] = data
        missing = sorted(set(listed) - set(members))
        if missing:
            raise BundleError(f"{path}: members listed in bundle.json are missing: {missing}")
    return meta, members


def check_reproducible(path: Path, meta: dict[str, Any], manifest: dict[str, Any]) -> list[str]:
    """Refuse (BundleError) a bundle whose features this machine cannot reproduce; returns notes
    about package versions that differ (the features may then differ in the last digits)."""
    from moodflow.features import EXTRACTORS

    want = meta.get("features") or {}
    name = want.get("extractor")
    if name not in EXTRACTORS.names():
        raise BundleError(f"{path}: refused: its features come from extractor {name!r}, which this moodflow does "
                          f"not have (has {', '.join(EXTRACTORS.names())})")
    have_version = str(EXTRACTORS.get(name).version)
    if have_version != str(want.get("extractor_version")):
        raise BundleError(f"{path}: refused: made with {name} extractor version {want.get('extractor_version')}, "
                          f"this moodflow has version {have_version}")
    try:
        have = feature_record(manifest)
    except Exception as exc:  # noqa: BLE001 - settings, missing weights, missing package
        raise BundleError(f"{path}: refused: the local {name} extractor cannot be built with the bundle's "
                          f"settings ({exc})") from exc
    if have["config"] != want.get("config"):
        diff = sorted(k for k in set(have["config"]) | set(want.get("config") or {})
                      if have["config"].get(k) != (want.get("config") or {}).get(k))
        raise BundleError(f"{path}: refused: the local {name} extractor's config differs from the bundle's in "
                          f"{diff} (bundle {json.dumps({k: (want.get('config') or {}).get(k) for k in diff})}, "
                          f"here {json.dumps({k: have['config'].get(k) for k in diff})})")
    if have["feature_names_sha"] != want.get("feature_names_sha"):
        raise BundleError(f"{path}: refused: the local {name} extractor gives other feature names")
    return [f"{path}: {pkg} {want['packages'].get(pkg)} made its features, this machine has {ver}"
            for pkg, ver in have["packages"].items() if (want.get("packages") or {}).get(pkg) != ver]


def open_bundle(path: str | Path) -> tempfile.TemporaryDirectory:
    """Check ``path`` and unpack it into a temporary folder (a model folder; kept while referenced)."""
    path = Path(path)
    meta, members = _read_members(path)
    try:
        manifest = json.loads(members["model.json"])
    except (ValueError, UnicodeDecodeError) as exc:
        raise BundleError(f"{path}: model.json is not JSON ({exc})") from exc
    notes = check_reproducible(path, meta, manifest)
    tmp = tempfile.TemporaryDirectory(prefix="moodflow-bundle-")
    root = Path(tmp.name)
    for name, data in members.items():
        target = root / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    tmp.notes = notes  # type: ignore[attr-defined]
    return tmp
