"""The documentation's runnable code blocks run: every fenced ``bash``/``python`` block of
README.md and docs/api.md preceded by the marker line ``<!-- runnable -->`` (or
``<!-- runnable; expect: REGEX -->``, whose REGEX must then match the block's stdout) is
executed, in the order of its document, in a copy of the reproduced demo repository (the suite's
shared demo tree: ``make run``'s ``dvc repro`` on a fresh clone) with ``.venv`` the test's own
environment; a block that names ``../shared/data`` reads the team's real clips from
``$MOODFLOW_SHARED_DATA`` and skips, saying so, where it is unset."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers.pipeline_helpers import copy_tree, env
from tests.helpers.real_data import SHARED, SHARED_ENV

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = ("README.md", "docs/api.md")
MARKER = re.compile(r"^<!--\s*runnable(?:;\s*expect:\s*(?P<expect>.*?))?\s*-->\s*$")
FENCE = re.compile(r"^```(?P<lang>\w*)\s*$")
LANGUAGES = ("bash", "python")


@dataclass
class Block:
    document: str
    line: int  # of the opening fence, 1-based
    lang: str
    code: str
    expect: str | None

    @property
    def id(self) -> str:
        return f"{self.document}:{self.line}"


def runnable_blocks(document: str) -> list[Block]:
    """The marked blocks of ``document`` (relative to the repository), in order; a marker that is
    not followed by a fenced bash/python block is an error."""
    lines = (REPO / document).read_text().splitlines()
    blocks = []
    for i, line in enumerate(lines):
        marker = MARKER.match(line.strip())
        if not marker:
            continue
        j = i + 1
        while j < len(lines) and not lines[j].strip():
            j += 1
        fence = FENCE.match(lines[j].strip()) if j < len(lines) else None
        if fence is None or fence["lang"] not in LANGUAGES:
            raise ValueError(f"{document}:{i + 1}: the runnable marker is not followed by a ```bash or ```python block")
        end = next((k for k in range(j + 1, len(lines)) if lines[k].strip() == "```"), None)
        if end is None:
            raise ValueError(f"{document}:{j + 1}: the block is never closed")
        blocks.append(Block(document, j + 1, fence["lang"], "\n".join(lines[j + 1:end]) + "\n", marker["expect"]))
    return blocks


ALL_BLOCKS = [b for doc in DOCUMENTS for b in runnable_blocks(doc)]


def test_each_document_has_runnable_blocks_and_markers_are_well_formed(tmp_path):
    assert {b.document for b in ALL_BLOCKS} == set(DOCUMENTS)
    for block in ALL_BLOCKS:
        if block.expect:
            re.compile(block.expect)
    # a marker on anything but a bash/python block is refused, not skipped
    doc = tmp_path / "doc.md"
    doc.write_text("<!-- runnable -->\n```text\nhello\n```\n")
    with pytest.raises(ValueError, match="not followed by a ```bash or ```python block"):
        runnable_blocks(str(doc))


@pytest.fixture(scope="module")
def docs_repo(demo_tree, tmp_path_factory) -> Path:
    """One copy of the reproduced demo repository for the documents' blocks, run in order as a
    reader would; ``.venv`` is this test's environment and ``../shared/data`` the team's data."""
    base = tmp_path_factory.mktemp("docs")
    repo = copy_tree(demo_tree / "repo", base / "repo")
    (repo / ".venv").symlink_to(Path(sys.prefix), target_is_directory=True)
    if SHARED is not None:
        (base / "shared").mkdir()
        (base / "shared" / "data").symlink_to(SHARED.resolve(), target_is_directory=True)
    return repo


@pytest.mark.parametrize("block", ALL_BLOCKS, ids=lambda b: b.id)
def test_runnable_block_runs_on_the_demo(block, docs_repo):
    if ("../shared/data" in block.code or SHARED_ENV in block.code) and SHARED is None:
        pytest.skip(f"{block.id} reads the team's real clips: {SHARED_ENV} is not set (CI sets it to ../shared/data)")
    if block.lang == "bash":
        command = ["bash", "-e", "-o", "pipefail", "-c", block.code]
    else:
        script = docs_repo.parent / f"block_{block.document.replace('/', '_')}_{block.line}.py"
        script.write_text(block.code)
        command = [str(docs_repo / ".venv/bin/python"), str(script)]
    run_env = env(docs_repo)
    run_env["PATH"] = f"{docs_repo / '.venv/bin'}:{run_env['PATH']}"
    proc = subprocess.run(command, cwd=docs_repo, capture_output=True, text=True, env=run_env, timeout=600)
    assert proc.returncode == 0, f"{block.id} failed ({proc.returncode}):\n{block.code}\n{proc.stdout}\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    if block.expect:
        assert re.search(block.expect, proc.stdout, re.MULTILINE), \
            f"{block.id}: stdout does not match {block.expect!r}:\n{proc.stdout}\n{proc.stderr}"
