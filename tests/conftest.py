"""Shared fixtures: the real-data folder, small generated signals, and the one reproduced demo
tree that every pipeline test reads or copies (built once per test run, in the background)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.helpers.pipeline_helpers import DEMO_TREE_ENV, build_demo_tree, copy_tree, wait_for_demo_tree
from tests.helpers.real_data import SHARED_ENV, shared_data_dir
from tests.helpers.signals import tone  # noqa: F401 - tests call it through `from tests.helpers.signals import tone`

REPO = Path(__file__).resolve().parents[1]
_builder: subprocess.Popen | None = None


@pytest.fixture
def shared_data() -> Path:
    """``$MOODFLOW_SHARED_DATA`` (real audio and annotations); skips when unset."""
    path = shared_data_dir()
    if path is None:
        pytest.skip(f"{SHARED_ENV} is not set or not a folder (CI sets it to ../shared/data)")
    return path


@pytest.fixture(scope="session")
def demo_tree(tmp_path_factory) -> Path:
    """Root of the shared demo tree: ``repo`` (a fresh clone after ``dvc repro`` with the committed
    params, then committed), ``param-traces`` (what each stage read), ``status-after-run.txt``.
    Read it; copy it (``demo_repo``) to change it. Built in the background when the run's test
    files use it (see ``pytest_configure``), else here, once for all workers."""
    if not os.environ.get(DEMO_TREE_ENV):
        from filelock import FileLock

        root = tmp_path_factory.getbasetemp().parent / "demo-tree"
        root.mkdir(exist_ok=True)
        with FileLock(str(root) + ".lock"):
            if not (root / "done").exists():
                build_demo_tree(root)
        os.environ[DEMO_TREE_ENV] = str(root)
    return wait_for_demo_tree()


@pytest.fixture(scope="session")
def slurm_cluster():
    """A private one-node Slurm cluster (its own munged, slurmctld, slurmd, config and ports;
    tests/helpers/slurm.py), started once per test process that asks for it and stopped after
    the run, also on failure or Ctrl-C; skips (with the reason) without root or Slurm."""
    from tests.helpers.slurm import start_cluster, unavailable

    reason = unavailable()
    if reason:
        pytest.skip(reason)
    cluster = start_cluster()
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def demo_repo(demo_tree, tmp_path) -> Path:
    """A private copy of the reproduced demo repository."""
    return copy_tree(demo_tree / "repo", tmp_path / "repo")


# What makes a test file long, read off its source: DVC runs in fresh clones, the Slurm cluster,
# a demo project of its own, tests marked slow.
_HEAVY = re.compile(r'make_clone\(|"repro"|"exp", "run"|slurm_cluster|mark\.slow|shared_project\(')


def _file_weight(path: str, cache: dict[str, int] = {}) -> int:  # noqa: B006 - a per-run cache
    if path not in cache:
        cache[path] = len(_HEAVY.findall(Path(path).read_text())) if Path(path).is_file() else 0
    return cache[path]


def pytest_collection_modifyitems(config, items):
    """Long files first, so that two workers end together (``--dist loadfile`` sends whole files,
    in this order: see ``pytest_configure``); the files that need the shared demo tree after the
    long ones, so that no worker waits for its build; the short files last, filling the gaps.
    Within a file, tests that need the tree still come last."""
    uses_tree = lambda item: bool({"demo_tree", "demo_repo"} & set(getattr(item, "fixturenames", ())))  # noqa: E731
    tree_files = {str(item.path) for item in items if uses_tree(item)}

    def order(item) -> tuple:
        path = str(item.path)
        weight = _file_weight(path)
        group = 1 if path in tree_files else (0 if weight >= 2 else 2)
        return group, -weight if group < 2 else 0, path if group < 2 else "", uses_tree(item)

    items.sort(key=order)


def pytest_configure(config):
    """In the controlling process, before xdist workers start: compile librosa's numba code once
    (workers compiling it at the same moment can corrupt numba's on-disk cache), then start
    building the shared demo tree in the background while the first tests run."""
    global _builder
    if hasattr(config, "option") and hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False  # xdist keeps the order of pytest_collection_modifyitems
    if hasattr(config, "workerinput"):
        # the shared demo tree is built meanwhile at normal priority: the tests that need it wait
        # for it, the others only take the CPU it leaves
        os.nice(5)
        return
    from moodflow.extract.worker import warm_up
    from moodflow.features import build_extractor

    warm_up(build_extractor("chroma", {}, {}))
    if os.environ.get(DEMO_TREE_ENV) or not _selected_tests_use_the_tree(config):
        return
    root = Path(tempfile.mkdtemp(prefix="moodflow-demo-tree-"))
    os.environ[DEMO_TREE_ENV] = str(root)
    log = open(root / "builder.log", "w")  # noqa: SIM115 - closed with the process
    _builder = subprocess.Popen([sys.executable, "-m", "tests.helpers.pipeline_helpers", str(root)],
                                cwd=REPO, stdout=log, stderr=subprocess.STDOUT)


def _selected_tests_use_the_tree(config) -> bool:
    """Whether any test file the command line selects mentions the shared tree's fixtures."""
    files: list[Path] = []
    for arg in config.args or [str(Path(__file__).parent)]:
        path = Path(str(arg).split("::")[0])
        path = path if path.is_absolute() else Path(config.invocation_params.dir) / path
        files += sorted(path.rglob("test_*.py")) if path.is_dir() else [path]
    return any(f.is_file() and ("demo_tree" in f.read_text() or "demo_repo" in f.read_text()) for f in files)


def pytest_unconfigure(config):
    if hasattr(config, "workerinput") or _builder is None:
        return
    if _builder.poll() is None:
        _builder.kill()
        _builder.wait()
    shutil.rmtree(os.environ.pop(DEMO_TREE_ENV), ignore_errors=True)
