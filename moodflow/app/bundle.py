"""Model bundles: one ``NAME.moodflow`` file that predicts on another machine.

A bundle is a ZIP archive (entries sorted, fixed times and permissions, so the same model folder
gives the same bytes) holding ``bundle.json`` and the model folder's files: ``model.json`` (the
manifest: model, label scale, feature set + its full config, training summary, versions),
``metrics.json`` and the weights in moodflow's safe formats (skops with trusted types, XGBoost
JSON/UBJ, safetensors + JSON). Nothing in it is ever unpickled. ``bundle.json`` lists every
member with its SHA-256 and records what the features need: extractor name and version, the
full extractor config (with checkpoint hashes where there are weights), the feature-name
digest and the versions of the packages that compute them.

A bundle is opened as a hostile archive (docs/sharing.md). Before anything is inflated, every
member name must already be in its one canonical form (no ``.``/``..``/empty component, no
absolute or drive path, no backslash), no two names may coincide (case folded too), and no
member may be a directory, a link, encrypted or compressed other than by deflate; the sizes the
archive declares must stay under :func:`max_bundle_bytes` together and under
:data:`MAX_RATIO` times their compressed size each. Members are then inflated in 1 MiB steps,
counting the bytes (the header is not trusted) and hashing them: ``bundle.json`` and
``model.json`` into bounded memory and checked against their schemas
(:mod:`moodflow.core.schema`), the weights into a private folder that is removed on every way
out, SIGINT and SIGTERM included (:class:`moodflow.core.scratch.PrivateFolder`). Then this
machine's extractor must reproduce the recorded features — same extractor version, same
config, same feature names. Any refusal is one :class:`BundleError` line naming the bundle and
the member or field.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import zipfile
import zlib
from pathlib import Path
from typing import Any

from moodflow.app.errors import PredictError
from moodflow.core.errors import EnvironmentFailure, MoodflowError, SettingsError, context

FORMAT = "moodflow.bundle"
FORMAT_VERSION = 1
SUFFIX = ".moodflow"
# Uncompressed, all members together: the largest models moodflow trains are a kNN (it keeps every
# training row: 18k Jamendo tracks x 6373 ComParE features in float64 is 0.9 GB) and a 300-tree
# random forest over thousands of tracks, which reach a few GB; raise it with MOODFLOW_BUNDLE_MAX_BYTES.
DEFAULT_MAX_BYTES = 4 << 30
MAX_BYTES_ENV = "MOODFLOW_BUNDLE_MAX_BYTES"
MAX_MEMBERS = 1000
MAX_JSON_BYTES = 16 << 20  # bundle.json, model.json
MAX_RATIO = 100  # inflated / compressed, for members over RATIO_FLOOR (weights compress < 5x)
RATIO_FLOOR = 1 << 20
_CHUNK = 1 << 20
_UNIX_FILE, _UNIX_TYPE = 0o100000, 0o170000
# held-out diagnostics (predictions, tuning candidates, importance, attention): large, not needed to predict
_SKIPPED = {"predictions.csv", "baseline_predictions.csv", "confusion.csv", "tuning.csv", "importance.csv", "attention.csv"}
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)


class BundleError(MoodflowError, ValueError):
    """A bundle that is not well formed or cannot be reproduced here; the message says why."""


def max_bundle_bytes() -> int:
    """The most a bundle may unpack to: ``$MOODFLOW_BUNDLE_MAX_BYTES`` (bytes, or with a K/M/G/T
    suffix: ``8G``), else :data:`DEFAULT_MAX_BYTES`."""
    text = os.environ.get(MAX_BYTES_ENV, "").strip()
    if not text:
        return DEFAULT_MAX_BYTES
    match = re.fullmatch(r"(\d+)\s*([KMGT]?)i?B?", text, re.IGNORECASE)
    if not match or int(match.group(1)) == 0:
        raise SettingsError(f"{MAX_BYTES_ENV}={text!r}: must be a size such as 8G, 500M or 123456789")
    return int(match.group(1)) << (10 * " KMGT".index(match.group(2).upper() or " "))


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def feature_settings(manifest: dict[str, Any]) -> tuple[str, dict[str, Any], dict[str, Any]]:
    """(extractor name, its settings, grid) that made the model's training features."""
    config = manifest.get("feature_config") or {}
    if isinstance(config, str):
        from moodflow.core.schema import parse_json

        config = parse_json(config, "model.json: feature_config")
    if not isinstance(config, dict) or not isinstance(config.get("extractor") or {}, dict) \
            or not isinstance(config.get("grid") or {}, dict):
        raise PredictError("model.json: feature_config: must be an object with 'extractor' and 'grid' objects")
    name = manifest.get("feature_extractor") or manifest.get("feature_set")
    settings = dict(config.get("extractor") or {})
    if settings.get("dtype") == "auto" and config.get("compute_dtype"):
        settings["dtype"] = config["compute_dtype"]  # the precision the training features had
    return name, settings, dict(config.get("grid") or {})


def model_extractor(manifest: dict[str, Any]) -> Any:
    """The extractor that made the model's training features; for a combined set (``a+b``) every
    part's, joined (:mod:`moodflow.app.joined`)."""
    from moodflow.app.joined import JoinedExtractor, is_joined, part_manifests
    from moodflow.features import build_extractor

    if not is_joined(manifest):
        return build_extractor(*feature_settings(manifest))
    parts = part_manifests(manifest)
    return JoinedExtractor([s for s, _ in parts], [build_extractor(*feature_settings(m)) for _, m in parts])


def feature_record(manifest: dict[str, Any]) -> dict[str, Any]:
    """What reproducing the model's features needs, from this machine's extractor."""
    from moodflow.core.versions import package_versions
    from moodflow.stores.feature_store import names_digest

    extractor = model_extractor(manifest)  # a combined set's: every part's, joined
    versions = package_versions(extractor.packages)
    return {
        "extractor": extractor.name,
        "extractor_version": str(extractor_version(extractor.name)),
        "config": _normal(extractor.config_dict()),
        "feature_names_sha": names_digest(extractor.feature_names()),
        "packages": {p: versions.get(p) for p in extractor.packages},
    }


def extractor_version(name: str) -> str:
    """The registered version of extractor ``name`` (a combined set's ``a+b``: ``1+2``)."""
    from moodflow.features import EXTRACTORS

    return "+".join(str(EXTRACTORS.get(part).version) for part in name.split("+"))


def _normal(obj: Any) -> Any:
    return json.loads(json.dumps(obj, sort_keys=True, default=str))


def export_bundle(folder: str | Path, out: str | Path) -> Path:
    """Write ``folder`` (a trained model folder) as one bundle file ``out``; returns its path."""
    from moodflow.core.errors import api_boundary

    return api_boundary(lambda *a: f"export {folder}", BundleError)(_export)(Path(folder), Path(out))


def _export(folder: Path, out: Path) -> Path:
    from moodflow.core.atomic import atomic_path
    from moodflow.models.io import read_manifest

    manifest = read_manifest(folder)
    if manifest.get("feature_names_sha") is None:
        raise BundleError(f"{folder / 'model.json'}: no feature_names_sha (retrain with this moodflow)")
    record = feature_record(manifest)
    if record["feature_names_sha"] != manifest["feature_names_sha"]:
        raise BundleError(f"{folder}: this machine's {record['extractor']} extractor gives other feature names "
                          "than the model was trained on; export it where it was trained")
    members: dict[str, Path] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            raise BundleError(f"{path}: a link; a bundle holds plain files only")
        if path.is_file() and rel not in _SKIPPED and "__pycache__" not in rel:
            members[rel] = path
    from moodflow import __version__

    meta = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "moodflow_version": __version__,
        "model": {k: manifest.get(k) for k in ("model", "feature_set", "dataset", "task", "targets", "protocol")},
        "label_spec": manifest.get("label_spec"), "metrics": manifest.get("metrics"),
        "features": record,
        "files": {name: _file_sha256(path) for name, path in members.items()},
    }
    header = (json.dumps(_normal(meta), indent=2, sort_keys=True) + "\n").encode()
    with atomic_path(out) as tmp:
        with zipfile.ZipFile(tmp, "w") as zf:
            for name in sorted([*members, "bundle.json"]):
                info = zipfile.ZipInfo(name, date_time=_ZIP_TIME)
                info.compress_type = zipfile.ZIP_DEFLATED
                info.external_attr = 0o100644 << 16
                info.create_system = 3
                if name == "bundle.json":
                    zf.writestr(info, header)
                    continue
                info.file_size = members[name].stat().st_size  # as writestr sets it: zip64 when large
                with open(members[name], "rb") as src, zf.open(info, "w") as dst:
                    shutil.copyfileobj(src, dst, _CHUNK)
    return out


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(_CHUNK), b""):
            h.update(block)
    return h.hexdigest()


class _Archive:
    """A bundle's ZIP archive with its member table checked (names, kinds, declared sizes);
    members are read through :meth:`read` / :meth:`copy`, which count what they inflate."""

    def __init__(self, path: Path):
        from moodflow.core.paths import path_problem

        self.path = path
        self.limit = max_bundle_bytes()
        if not path.is_file():
            raise BundleError(f"{path}: not found")
        try:
            self.zf = zipfile.ZipFile(path)
        except zipfile.BadZipFile as exc:
            raise BundleError(f"{path}: not a moodflow bundle (not a ZIP archive: {exc})") from None
        except (ValueError, EOFError, NotImplementedError, zlib.error) as exc:
            raise BundleError(f"{path}: damaged archive ({_text(exc)}); download the bundle again") from None
        infos = self.zf.infolist()
        if len(infos) > MAX_MEMBERS:
            self.refuse(f"{len(infos)} members, more than the {MAX_MEMBERS} a bundle may hold")
        self.infos: dict[str, zipfile.ZipInfo] = {}
        folded: dict[str, str] = {}
        total = 0
        for info in infos:
            name = info.filename
            problem = path_problem(name, strict=True)
            mode = (info.external_attr >> 16) & _UNIX_TYPE
            if problem is None and (info.is_dir() or mode not in (0, _UNIX_FILE) or info.external_attr & 0x10):
                problem = "is a directory" if info.is_dir() or mode == 0o040000 or info.external_attr & 0x10 else (
                    "is a symbolic link" if mode == 0o120000 else "is not a regular file")
            if problem is None and info.flag_bits & 0x1:
                problem = "is encrypted"
            if problem is None and info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                problem = f"uses compression method {info.compress_type} (only deflate is allowed)"
            if problem is None and name.casefold() in folded:
                problem = ("appears twice" if folded[name.casefold()] == name
                           else f"differs from member {folded[name.casefold()]!r} only in case")
            if problem is not None:
                self.refuse(f"member {name!r} is not a plain file listed in bundle.json ({problem})")
            folded[name.casefold()] = name
            if info.file_size > self.limit:
                self.refuse(f"member {name!r} declares {info.file_size:,} bytes, more than a bundle may hold "
                            f"({self.limit:,}; raise {MAX_BYTES_ENV} for a larger model)")
            if info.file_size > RATIO_FLOOR and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                self.refuse(f"member {name!r} inflates {info.compress_size:,} bytes to {info.file_size:,} "
                            f"(more than {MAX_RATIO}x: not model weights)")
            total += info.file_size
            self.infos[name] = info
        if total > self.limit:
            self.refuse(f"members add up to {total:,} bytes uncompressed, more than a bundle may hold "
                        f"({self.limit:,}; raise {MAX_BYTES_ENV} for a larger model)")
        for name in self.infos:
            parent = name.rpartition("/")[0]
            while parent:
                if parent in self.infos:
                    self.refuse(f"member {parent!r} is both a file and the folder of {name!r}")
                parent = parent.rpartition("/")[0]
        self.total = total

    def refuse(self, problem: str) -> None:
        raise BundleError(f"{self.path}: {problem}")

    def _chunks(self, name: str, cap: int):
        """The member's bytes in steps, counted: more than its declared size or ``cap`` is refused."""
        info = self.infos[name]
        cap = min(cap, info.file_size)
        seen = 0
        try:
            with self.zf.open(info) as fh:
                while True:
                    block = fh.read(_CHUNK)
                    if not block:
                        break
                    seen += len(block)
                    if seen > cap:
                        self.refuse(f"member {name!r} inflates beyond {cap:,} bytes")
                    yield block
        except BundleError:
            raise
        except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError, ValueError) as exc:
            raise BundleError(f"{self.path}: member {name!r}: damaged archive ({_text(exc)}); "
                              "download the bundle again") from None
        if seen != info.file_size:
            self.refuse(f"member {name!r} holds {seen:,} bytes, not the {info.file_size:,} its header says")

    def read(self, name: str, cap: int) -> bytes:
        """A small member (a manifest) in memory."""
        if self.infos[name].file_size > cap:
            self.refuse(f"member {name!r} is {self.infos[name].file_size:,} bytes, more than the {cap:,} it may have")
        return b"".join(self._chunks(name, cap))

    def copy(self, name: str, target: Path) -> str:
        """A member streamed into ``target``; returns its SHA-256."""
        h = hashlib.sha256()
        with open(target, "xb") as out:
            for block in self._chunks(name, self.limit):
                h.update(block)
                out.write(block)
        return h.hexdigest()


def _text(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


def _schema_checked(archive: _Archive, name: str, kind: str, data: bytes | None = None) -> dict[str, Any]:
    from moodflow.core.schema import SchemaError, check, parse_json

    source = f"{archive.path}: {name}"
    try:
        return check(parse_json(archive.read(name, MAX_JSON_BYTES) if data is None else data, source), kind, source)
    except SchemaError as exc:
        raise BundleError(str(exc)) from None


def _header(archive: _Archive) -> tuple[dict[str, Any], dict[str, Any]]:
    """(bundle.json, model.json), each checked (member table, hash, schema)."""
    if "bundle.json" not in archive.infos:
        archive.refuse("no bundle.json (not a moodflow bundle)")
    meta = _schema_checked(archive, "bundle.json", "bundle")
    listed = meta["files"]
    for name in sorted(set(archive.infos) - set(listed) - {"bundle.json"}):
        archive.refuse(f"member {name!r} is not a plain file listed in bundle.json")
    missing = sorted(set(listed) - set(archive.infos))
    if missing:
        archive.refuse(f"members listed in bundle.json are missing: {missing}")
    manifest = archive.read("model.json", MAX_JSON_BYTES)
    if _sha256(manifest) != listed["model.json"]:
        archive.refuse("member 'model.json' does not match its SHA-256 in bundle.json")
    return meta, _schema_checked(archive, "model.json", "model", manifest)


def check_reproducible(path: Path, meta: dict[str, Any], manifest: dict[str, Any]) -> list[str]:
    """Refuse (BundleError) a bundle whose features this machine cannot reproduce; returns notes
    about package versions that differ (the features may then differ in the last digits)."""
    from moodflow.features import EXTRACTORS

    want = meta.get("features") or {}
    name = want.get("extractor")
    parts = name.split("+") if isinstance(name, str) else [name]
    unknown = [part for part in parts if part not in EXTRACTORS.names()]
    if unknown:  # a combined set's features come from every part's extractor (a+b)
        raise BundleError(f"{path}: refused: its features come from extractor {unknown[0]!r}, which this moodflow does "
                          f"not have (has {', '.join(EXTRACTORS.names())})")
    have_version = extractor_version(name)
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


def open_bundle(path: str | Path):
    """Check ``path`` and unpack it into a private temporary folder (a model folder, removed when
    the returned :class:`~moodflow.core.scratch.PrivateFolder` is cleaned up or dropped, and on
    exit); its ``notes`` say which package versions differ from the bundle's."""
    from moodflow.core.errors import api_boundary

    return api_boundary(lambda *a: f"bundle {path}", BundleError)(_open)(Path(path))


def _open(path: Path):
    from moodflow.core.scratch import PrivateFolder

    archive = _Archive(path)
    with archive.zf:
        meta, manifest = _header(archive)
        notes = check_reproducible(path, meta, manifest)
        _check_room(archive)
        folder = PrivateFolder("moodflow-bundle-")
        try:
            for name in sorted(meta["files"]):
                target = folder.path / name
                with context(f"bundle {path} member {name!r}"):  # names it in a full-disk message
                    target.parent.mkdir(parents=True, exist_ok=True)
                    digest = archive.copy(name, target)
                if digest != meta["files"][name]:
                    archive.refuse(f"member {name!r} does not match its SHA-256 in bundle.json")
        except BaseException:
            folder.cleanup()
            raise
    folder.notes = notes  # type: ignore[attr-defined]
    return folder


def _check_room(archive: _Archive) -> None:
    import tempfile

    where = tempfile.gettempdir()
    free = shutil.disk_usage(where).free
    if archive.total + (64 << 20) > free:
        raise EnvironmentFailure(f"{archive.path}: unpacking it needs {archive.total:,} bytes, {where} has "
                                 f"{free:,} free; free space or set TMPDIR to a larger folder")
