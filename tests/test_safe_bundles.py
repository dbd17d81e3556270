"""Bundles opened like a hostile archive (issue 24, cases 3, 4 and 5): member names normalised
before every check, sizes and compression ratios bounded before inflating and counted while
inflating, a damaged archive one line (CLI and API), peak memory bounded and nothing left in
the temporary folder, even after SIGTERM or Ctrl-C. Every bundle here is crafted by the test
from a real exported one."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
import zipfile
import zlib
from pathlib import Path

import pytest

from moodflow.app.bundle import BundleError, export_bundle, open_bundle
from tests.helpers.bundles import REPO, cli, shared_project, wavs
from tests.helpers.hostile_files import bundle_members, craft_bundle, set_member_sizes, write_zip


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return shared_project(tmp_path_factory.getbasetemp().parent)


@pytest.fixture(scope="module")
def good(project, tmp_path_factory) -> Path:
    return export_bundle(project / "models/chroma/ridge", tmp_path_factory.mktemp("bundle") / "good.moodflow")


@pytest.fixture
def sentinel(tmp_path) -> tuple[Path, str]:
    """A file outside every root whose bytes must never appear in any output."""
    token = f"SENTINEL-{uuid.uuid4().hex}"
    path = tmp_path / "outside" / "sentinel.txt"
    path.parent.mkdir()
    path.write_text(token + "\n")
    return path, token


def _predict(project: Path, bundle: Path, tmp: Path, *extra: str) -> tuple[subprocess.CompletedProcess, Path]:
    """``moodflow predict`` of one clip with ``bundle`` in a child whose TMPDIR is private."""
    tmpdir = tmp / "tmpdir"
    tmpdir.mkdir(exist_ok=True)
    out = cli(["predict", str(wavs(project)[0]), "--model", str(bundle), "--no-tags", *extra], cwd=tmp,
              env={"TMPDIR": str(tmpdir)})
    return out, tmpdir


def _refused(out: subprocess.CompletedProcess, tmpdir: Path, bundle: Path, *fragments: str, token: str = "") -> str:
    """The refusal: exit 2, one error line naming the bundle and ``fragments``, no traceback, no
    prediction, nothing left in the temporary folder, no sentinel bytes."""
    assert out.returncode == 2, (out.returncode, out.stderr[-3000:])
    errors = [line for line in out.stderr.splitlines() if line.startswith("moodflow: error:")]
    assert len(errors) == 1, out.stderr
    assert str(bundle) in errors[0] and all(f in errors[0] for f in fragments), errors[0]
    assert "Traceback" not in out.stderr and out.stdout == ""
    assert list(tmpdir.iterdir()) == []
    if token:
        assert token not in out.stdout + out.stderr
    return errors[0]


# -- case 3: names normalised before every check ----------------------------------------------------
def test_a_second_member_named_model_json_dot_cannot_forge_the_manifest(project, good, tmp_path, sentinel):
    """Before: ``model.json/.`` unpacked over the checked model.json (forged dataset, scale and
    targets, exit 0). Now: refused by name before anything is read."""
    forged = json.loads(dict(bundle_members(good))["model.json"])
    forged["dataset"] = "forged-dataset"
    forged["label_spec"]["scale"] = [0.0, 100.0]
    bad = craft_bundle(good, tmp_path / "forged.moodflow", extra=[("model.json/.", json.dumps(forged).encode())])
    out, tmpdir = _predict(project, bad, tmp_path)
    _refused(out, tmpdir, bad, "member 'model.json/.'", "has a '.' component", token=sentinel[1])
    assert "forged-dataset" not in out.stdout + out.stderr


def _member(name: str, mode: int | None = None, dir_attr: bool = False) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
    if mode is not None:
        info.create_system = 3
        info.external_attr = mode << 16
    if dir_attr:
        info.external_attr |= 0x10
    return info


@pytest.mark.parametrize("name, problem", [
    ("./model.json", "has a '.' component"),
    ("dynamic/../model.json", "has a '..' component"),
    ("../evil.txt", "has a '..' component"),
    ("a//b", "has an empty component"),
    ("/etc/evil", "is an absolute path"),
    ("C:/evil", "is a drive path"),
    ("C:evil", "is a drive path"),
    ("dynamic\\model.skops", "holds a backslash"),
    ("somewhere/", "names a directory"),
    ("Model.json", "differs from member 'model.json' only in case"),
    ("model.json", "appears twice"),
])
def test_member_names_in_any_other_form_are_refused(good, tmp_path, name, problem):
    bad = craft_bundle(good, tmp_path / "bad.moodflow", extra=[(name, b"{}")])
    with pytest.raises(BundleError, match=re.escape(f"member {name!r} is not a plain file listed in bundle.json ({problem}")):
        open_bundle(bad)


def test_links_directories_and_file_folder_clashes_are_refused(good, tmp_path, sentinel):
    path, token = sentinel
    cases = [
        ("is a symbolic link", [(_member("linked.skops", 0o120777), str(path).encode())]),
        ("is a directory", [(_member("folder", 0o040755), b"")]),
        ("is a directory", [(_member("dosdir", dir_attr=True), b"")]),
        ("is not a regular file", [(_member("fifo", 0o010644), b"")]),
        ("is both a file and the folder of", [("model.skops/inner", b"x")]),
    ]
    for problem, extra in cases:
        bad = craft_bundle(good, tmp_path / "bad.moodflow", extra=extra)
        with pytest.raises(BundleError, match=problem.strip()) as info:
            open_bundle(bad)
        assert token not in str(info.value)


def test_every_listed_member_must_be_there_and_every_member_listed(good, tmp_path):
    bad = craft_bundle(good, tmp_path / "a.moodflow", meta=lambda m: m["files"].update({"ghost.bin": "0" * 64}))
    with pytest.raises(BundleError, match=r"members listed in bundle\.json are missing: \['ghost\.bin'\]"):
        open_bundle(bad)
    bad = craft_bundle(good, tmp_path / "b.moodflow", extra=[("unlisted.txt", b"x")], rehash=False)
    with pytest.raises(BundleError, match=r"member 'unlisted\.txt' is not a plain file listed in bundle\.json"):
        open_bundle(bad)


# -- case 4: sizes bounded, memory bounded, nothing left behind ----------------------------------
# VmHWM: the peak resident memory of this process image (getrusage's ru_maxrss would also count the
# forking pytest process, whose peak Linux carries across exec)
_PEAK = """
import sys
from moodflow.cli import main
try:
    status = main(sys.argv[2:])
finally:
    with open("/proc/self/status") as status_file, open(sys.argv[1], "w") as fh:
        fh.write(next(line.split()[1] for line in status_file if line.startswith("VmHWM:")))
sys.exit(status)
"""


def _predict_measured(project: Path, bundle: Path, tmp: Path, env: dict | None = None
                      ) -> tuple[subprocess.CompletedProcess, Path, int]:
    """As :func:`_predict`, also returning the child's peak resident memory in bytes."""
    tmpdir, peak = tmp / "tmpdir", tmp / "peak.txt"
    tmpdir.mkdir(exist_ok=True)
    args = ["predict", str(wavs(project)[0]), "--model", str(bundle), "--no-tags"]
    out = subprocess.run([sys.executable, "-c", _PEAK, str(peak), *args], cwd=tmp, capture_output=True, text=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "TMPDIR": str(tmpdir), **(env or {})},
                         timeout=300)
    return out, tmpdir, int(peak.read_text()) * 1024


def _zeros_member(name: str, size: int) -> zipfile.ZipInfo:
    info = _member(name)
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def _bomb(good: Path, dst: Path, sizes: dict[str, int]) -> Path:
    """``good`` plus members of zeros (honestly sized and hashed), written in 1 MiB steps."""
    import hashlib

    members = dict(bundle_members(good))
    header = json.loads(members["bundle.json"])
    with zipfile.ZipFile(dst, "w", compression=zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            if name != "bundle.json":
                z.writestr(name, data)
        for name, size in sizes.items():
            h, block = hashlib.sha256(), bytes(1 << 20)
            info = _zeros_member(name, size)
            info.file_size = size
            with z.open(info, "w") as out:
                for _ in range(size >> 20):
                    out.write(block)
                    h.update(block)
            header["files"][name] = h.hexdigest()
        z.writestr("bundle.json", json.dumps(header))
    return dst


def test_a_small_bundle_of_huge_honest_members_is_refused_before_inflating(project, good, tmp_path, sentinel):
    """Before: a 4 MB bundle of three honestly hashed 1.3 GB members took 5.4 GB of memory and
    wrote 3.9 GB to the temporary folder, exit 0. Now: refused from the member table."""
    bomb = _bomb(good, tmp_path / "bomb.moodflow", {f"blob{i}.bin": 300 << 20 for i in range(3)})
    assert bomb.stat().st_size < 4 << 20
    out, tmpdir, peak = _predict_measured(project, bomb, tmp_path)
    _refused(out, tmpdir, bomb, "member 'blob0.bin' inflates", "more than 100x: not model weights",
             token=sentinel[1])
    print(f"hostile bundle (3 x 300 MiB of zeros in {bomb.stat().st_size:,} bytes): child peak RSS {peak >> 20} MiB")
    assert peak < 500 << 20, peak


def test_a_member_that_lies_about_its_size_is_counted_while_inflating(project, good, tmp_path):
    """Its header says 2 MiB (ratio 10); its data inflates to 200 MiB: inflating stops at the
    declared size and the archive is refused as damaged, in bounded memory."""
    bomb = _bomb(good, tmp_path / "liar.moodflow", {"blob.bin": 200 << 20})
    set_member_sizes(bomb, "blob.bin", 2 << 20)
    out, tmpdir, peak = _predict_measured(project, bomb, tmp_path)
    _refused(out, tmpdir, bomb, "member 'blob.bin': damaged archive", "download the bundle again")
    print(f"lying member (header 2 MiB, data 200 MiB): child peak RSS {peak >> 20} MiB")
    assert peak < 500 << 20, peak
    # and a header claiming far more than the data holds is refused by its ratio, before reading
    set_member_sizes(bomb, "blob.bin", 1 << 31)
    with pytest.raises(BundleError, match=r"member 'blob\.bin' inflates .* to 2,147,483,648 \(more than 100x"):
        open_bundle(bomb)


def test_the_total_size_limit_is_a_documented_setting(project, good, tmp_path):
    out, tmpdir, _ = _predict_measured(project, good, tmp_path, env={"MOODFLOW_BUNDLE_MAX_BYTES": "2K"})
    _refused(out, tmpdir, good, "more than a bundle may hold (2,048; raise MOODFLOW_BUNDLE_MAX_BYTES")
    out = cli(["predict", str(wavs(project)[0]), "--model", str(good), "--no-tags"], cwd=tmp_path,
              env={"MOODFLOW_BUNDLE_MAX_BYTES": "lots"})
    assert out.returncode == 2 and "MOODFLOW_BUNDLE_MAX_BYTES='lots': must be a size such as 8G" in out.stderr


def _interrupted(project: Path, bundle: Path, tmp: Path, signum: int) -> tuple[subprocess.CompletedProcess, Path]:
    """Predict with ``bundle``; send ``signum`` as soon as the unpacked bundle's folder exists."""
    tmpdir = tmp / "tmpdir"
    tmpdir.mkdir()
    files = [str(w) for w in wavs(project)] * 3
    proc = subprocess.Popen([sys.executable, "-m", "moodflow", "predict", *files, "--model", str(bundle), "--no-tags"],
                            cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "TMPDIR": str(tmpdir)})
    deadline = time.monotonic() + 120
    while not any(p.name.startswith("moodflow-bundle-") for p in tmpdir.iterdir()):
        assert proc.poll() is None and time.monotonic() < deadline, "the bundle was never unpacked"
        time.sleep(0.005)
    proc.send_signal(signum)
    stdout, stderr = proc.communicate(timeout=120)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr), tmpdir


@pytest.mark.parametrize("signum, status", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_an_interrupted_predict_leaves_nothing_in_the_temporary_folder(project, good, tmp_path, signum, status):
    """Before: SIGTERM left the unpacked bundle in the temporary folder."""
    out, tmpdir = _interrupted(project, good, tmp_path, signum)
    assert out.returncode == status, (out.returncode, out.stderr[-2000:])
    assert "Traceback" not in out.stderr
    assert list(tmpdir.iterdir()) == []


def test_a_folder_left_by_a_killed_process_is_removed_by_the_next(project, good, tmp_path):
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    dead = subprocess.Popen(["true"])
    dead.wait()
    stale = tmpdir / f"moodflow-bundle-{dead.pid}-x1"
    (stale / "dynamic").mkdir(parents=True)
    (stale / "model.skops").write_bytes(b"left by SIGKILL")
    out = cli(["predict", str(wavs(project)[0]), "--model", str(good), "--no-tags"], cwd=tmp_path,
              env={"TMPDIR": str(tmpdir)})
    assert out.returncode == 0, out.stderr[-2000:]
    assert list(tmpdir.iterdir()) == []


def test_a_good_bundle_unpacks_privately_and_cleans_up(good, tmp_path):
    folder = open_bundle(good)
    root = Path(folder.name)
    assert oct(root.stat().st_mode & 0o777) == "0o700" and (root / "model.json").is_file()
    folder.cleanup()
    assert not root.exists()


# -- case 5: a damaged archive is one line --------------------------------------------------------
def _damaged(good: Path, dst: Path) -> Path:
    data = bytearray(good.read_bytes())
    with zipfile.ZipFile(good) as z:
        info = z.getinfo("model.skops")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF  # one flipped byte inside the deflated weights
    dst.write_bytes(bytes(data))
    return dst


def test_a_damaged_archive_is_one_line_in_the_cli_and_the_api(project, good, tmp_path, sentinel):
    """Before: ``zipfile.BadZipFile: Bad CRC-32`` (or a zlib error) traceback, CLI and API."""
    bad = _damaged(good, tmp_path / "damaged.moodflow")
    out, tmpdir = _predict(project, bad, tmp_path)
    _refused(out, tmpdir, bad, "member 'model.skops': damaged archive", "download the bundle again",
             token=sentinel[1])
    from moodflow import Predictor

    with pytest.raises(BundleError, match=r"member 'model\.skops': damaged archive") as info:
        Predictor(bad, mood_tags=False)
    assert str(bad) in str(info.value) and "\n" not in str(info.value)
    truncated = tmp_path / "truncated.moodflow"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(BundleError, match="not a moodflow bundle"):
        open_bundle(truncated)
    with pytest.raises(BundleError, match=r"bundle\.json: not valid JSON"):
        open_bundle(craft_bundle(good, tmp_path / "x.moodflow", raw_meta=b'{"format": "moodflow.bundle", '))


def test_zlib_garbage_in_a_stored_header_is_one_line(good, tmp_path):
    members = bundle_members(good)
    bad = write_zip(tmp_path / "garbage.moodflow", members)
    data = bytearray(bad.read_bytes())
    with zipfile.ZipFile(bad) as z:
        info = z.getinfo("bundle.json")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start:start + 8] = zlib.compress(b"x")[:8]  # not the stream it was
    bad.write_bytes(bytes(data))
    with pytest.raises(BundleError, match=r"member 'bundle\.json': damaged archive"):
        open_bundle(bad)


def test_export_still_gives_the_same_bytes(project, good, tmp_path):
    again = export_bundle(project / "models/chroma/ridge", tmp_path / "again.moodflow")
    assert again.read_bytes() == good.read_bytes()
    assert os.environ.get("MOODFLOW_BUNDLE_MAX_BYTES") is None
