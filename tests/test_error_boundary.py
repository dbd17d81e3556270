"""One error boundary per entry point (issue 24, cases 7 and 11): every ``moodflow`` command and
every public API call turns an unexpected exception into one line naming what it worked on
(``--debug`` / ``MOODFLOW_DEBUG=1`` for the traceback); a failure of the machine is recognised
wherever it surfaces — also wrapped by joblib/loky — and a training stage then exits 75; names
printed on a terminal lose their escape sequences, while CSV/JSON keep them exactly."""

from __future__ import annotations

import errno
import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
import soundfile as sf

from moodflow.core.errors import is_environment_error
from tests.helpers.bundles import REPO, cli, shared_project, wavs
from tests.helpers.failing_disk import tiny_disk


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    return shared_project(tmp_path_factory.getbasetemp().parent)


# -- case 7: environment failures, wherever they surface -----------------------------------------
def _with_file_size_limit(limit: int, *command: str) -> list[str]:
    """``command`` (a script and its arguments) run where writing past ``limit`` bytes fails with EFBIG."""
    return [sys.executable, "-c", "import resource, runpy, signal, sys; sys.dont_write_bytecode = True; signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
            f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY)); "
            "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')", *command]


def test_efbig_under_joblib_during_training_exits_75(tmp_path):
    """Before: joblib's ``PicklingError: Could not pickle the task to send it to the workers``
    (its cause an EFBIG write of the memory-mapped features), exit 1 with a traceback."""
    from tests.helpers.synthetic_data import make_run

    store, prepared = make_run(tmp_path, n_tracks=40, n_feat=4000, dynamic=False, duration_s=2.0, label_start_s=0.5)
    params = (REPO / "params.yaml").read_text().replace("\n  jobs: 0 ", "\n  jobs: 2 ", 1)
    assert "\n  jobs: 2 " in params
    (tmp_path / "params.yaml").write_text(params)
    command = _with_file_size_limit(1 << 20, str(REPO / "stages/train.py"), "synthetic", "ridge", str(prepared),
                                    str(store), "models/synthetic/ridge")
    proc = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=600,
                          env={**os.environ, "PYTHONPATH": str(REPO), "JOBLIB_TEMP_FOLDER": str(tmp_path / "joblib")})
    assert proc.returncode == 75, proc.stderr[-3000:]
    assert "Traceback" not in proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("moodflow: error: OSError: [Errno 27] File too large") and "a failure of the machine" in last
    assert not (tmp_path / "models").exists() or list((tmp_path / "models").rglob("model.json")) == []


def _raised(make) -> BaseException:
    try:
        make()
    except BaseException as exc:  # noqa: BLE001 - returned for inspection
        return exc
    raise AssertionError("nothing raised")


def test_wrapped_machine_failures_are_recognised_and_input_errors_are_not(tmp_path):
    def full_disk():
        raise OSError(errno.ENOSPC, "No space left on device")

    def wrapped(inner, outer):
        def make():
            try:
                inner()
            except BaseException as exc:
                raise outer from exc
        return make

    def in_context(inner, outer):
        def make():
            try:
                inner()
            except BaseException:
                raise outer
        return make

    too_large = lambda: (_ for _ in ()).throw(OSError(errno.EFBIG, "File too large"))  # noqa: E731
    machine = [
        wrapped(too_large, pickle.PicklingError("Could not pickle the task to send it to the workers.")),
        in_context(full_disk, RuntimeError("worker failed")),
        wrapped(lambda: (_ for _ in ()).throw(MemoryError()), ValueError("cannot allocate")),
        wrapped(lambda: (_ for _ in ()).throw(RuntimeError('"""\nOSError: [Errno 5] Input/output error\n"""')),
                pickle.PicklingError("Could not pickle")),
    ]
    for make in machine:
        assert is_environment_error(_raised(make)), make
    missing = tmp_path / "nope.csv"
    inputs = [
        lambda: open(missing),
        lambda: open(tmp_path),
        wrapped(lambda: open(missing), ValueError(f"{missing}: cannot read the labels")),
        lambda: int("abc"),
    ]
    for make in inputs:
        assert not is_environment_error(_raised(make)), make


def test_a_loky_worker_killed_is_the_machines(tmp_path):
    from joblib import Parallel, delayed

    exc = _raised(lambda: Parallel(n_jobs=2, backend="loky")(delayed(os._exit)(1) for _ in range(2)))
    assert type(exc).__name__ == "TerminatedWorkerError" and is_environment_error(exc)


# -- the CLI boundary ----------------------------------------------------------------------------
_CRASHING_LIST = ("import sys, moodflow.cli as cli; "
                  "cli.cmd_list = lambda args: {}['packages']; "  # a bug in a command, as in 'moodflow: error: 'packages''
                  "sys.exit(cli.main(sys.argv[1:]))")


def test_an_unexpected_exception_is_one_line_naming_the_command(tmp_path):
    env = {"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"}
    run = lambda *args, **extra: subprocess.run([sys.executable, "-c", _CRASHING_LIST, *args], cwd=tmp_path,  # noqa: E731
                                                capture_output=True, text=True, env={**env, **extra}, timeout=120)
    out = run("list")
    assert out.returncode == 1 and out.stdout == ""
    assert out.stderr == "moodflow: error: list: KeyError: 'packages' (--debug shows the traceback)\n"
    for debug in (run("list", "--debug"), run("--debug", "list"), run("list", MOODFLOW_DEBUG="1")):
        assert debug.returncode == 1 and "Traceback (most recent call last)" in debug.stderr
        assert "KeyError: 'packages'" in debug.stderr


def test_predict_on_a_full_temporary_folder_exits_75_and_leaves_nothing(project, tmp_path):
    """Unpacking a bundle where files cannot grow (EFBIG) or the disk is full (ENOSPC) is the
    machine's failure: exit 75, one line naming the bundle, nothing left in TMPDIR."""
    from moodflow.app.bundle import export_bundle

    bundle = export_bundle(project / "models/chroma/ridge", tmp_path / "b.moodflow")
    tmpdir = tmp_path / "tmpdir"
    tmpdir.mkdir()
    script = tmp_path / "predict.py"
    script.write_text("import sys\nfrom moodflow.cli import main\nsys.exit(main(sys.argv[1:]))\n")
    proc = subprocess.run(_with_file_size_limit(512, str(script), "predict", str(wavs(project)[0]), "--model",
                                                str(bundle), "--no-tags"),
                          cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin", "TMPDIR": str(tmpdir)})
    assert proc.returncode == 75, proc.stderr[-3000:]
    assert proc.stderr.startswith(f"moodflow: error: bundle {bundle} member 'metrics.json': OSError: [Errno 27] "
                                  "File too large"), proc.stderr
    assert "a failure of the machine" in proc.stderr and "Traceback" not in proc.stderr
    assert list(tmpdir.iterdir()) == []
    with tiny_disk(tmp_path / "disk", "64k") as disk:
        if disk is None:
            pytest.skip("cannot mount a small disk here (the EFBIG case above ran)")
        out = cli(["predict", str(wavs(project)[0]), "--model", str(bundle), "--no-tags"], cwd=tmp_path,
                  env={"TMPDIR": str(disk)})
        assert out.returncode == 75 and "Traceback" not in out.stderr, out.stderr[-2000:]
        assert f"moodflow: error: {bundle}: unpacking it needs" in out.stderr and "set TMPDIR" in out.stderr
        assert list(disk.iterdir()) == []


# -- the API boundary ----------------------------------------------------------------------------
def test_the_api_raises_moodflows_own_errors(project, tmp_path):
    from moodflow import Predictor, PredictError
    from moodflow.app.bundle import BundleError, export_bundle, open_bundle

    with pytest.raises(PredictError, match=r"^model 12345: TypeError: ") as info:
        Predictor(12345, mood_tags=False)  # a bug's exception, not a library one, with what it was given
    assert isinstance(info.value.__cause__, TypeError)
    with pytest.raises(PredictError, match=r"no model manifest"):
        Predictor(tmp_path, mood_tags=False)
    with pytest.raises(BundleError, match=r"^export .*: .*no model manifest"):
        export_bundle(tmp_path, tmp_path / "x.moodflow")
    with pytest.raises(BundleError, match="not found"):
        open_bundle(tmp_path / "missing.moodflow")
    predictor = Predictor(project / "models/chroma/ridge", mood_tags=False)
    with pytest.raises(PredictError, match=r"^predict 3\.5: TypeError: "):
        predictor.predict(3.5)
    frame = predictor.predict_frame([str(wavs(project)[0]), str(tmp_path / "missing.wav")])
    assert len(frame) == 1 and predictor.errors and "missing.wav" in predictor.errors[0][0]


# -- case 11: names on a terminal ----------------------------------------------------------------
EVIL = "evil\x1b]0;pwned\x07\x1b[2J\x1b[31mred\u202e\rname"


def test_terminal_output_strips_escape_sequences_but_files_keep_names(project, tmp_path):
    """Before: file names carrying terminal escape sequences were printed raw in the table."""
    clip = tmp_path / f"{EVIL}.wav"
    y, sr = sf.read(wavs(project)[0])
    sf.write(clip, y, sr)
    broken = tmp_path / f"{EVIL}-broken.wav"
    broken.write_bytes(b"not audio")
    model = str(project / "models/chroma/ridge")
    out = cli(["predict", str(clip), str(broken), "--model", model, "--no-tags"], cwd=tmp_path)
    assert out.returncode == 1, out.stderr[-2000:]
    for text in (out.stdout, out.stderr):
        assert "\x1b" not in text and "\x07" not in text and "\r" not in text and "\u202e" not in text
    assert "evilred?" in out.stdout and "?name.wav" in out.stdout  # still recognisable
    assert "evilred??name-broken.wav" in out.stderr
    out = cli(["predict", str(clip), "--model", model, "--no-tags", "-o", "out.csv"], cwd=tmp_path)
    assert out.returncode == 0 and EVIL in (tmp_path / "out.csv").read_bytes().decode(), out.stderr
    out = cli(["predict", str(clip), "--model", model, "--no-tags", "--format", "json"], cwd=tmp_path)
    assert json.loads(out.stdout)["predictions"][0]["path"] == str(clip)


def test_datasets_verify_table_strips_escape_sequences(tmp_path):
    root = tmp_path / "ds"
    root.mkdir()
    index = tmp_path / "index.csv"
    index.write_text(f'path,size\n"{EVIL}.wav",10\n')
    out = cli(["datasets", "verify", "--name", "folder", "--root", str(root), "--index", str(index),
               "-o", str(tmp_path / "v.csv")], cwd=tmp_path)
    assert out.returncode == 1 and "\x1b" not in out.stdout and "evilred??name.wav" in out.stdout, out.stdout
    assert EVIL in (tmp_path / "v.csv").read_bytes().decode()


def test_debug_flag_reaches_every_subcommand():
    from moodflow.cli import _add_debug, build_parser

    parser = build_parser()
    _add_debug(parser)
    for argv in (["--debug", "list"], ["list", "--debug"], ["datasets", "verify", "--debug"], ["info", "x", "--debug"]):
        assert parser.parse_args(argv).debug is True
    assert parser.parse_args(["list"]).debug is False
