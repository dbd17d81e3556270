"""The report from data: dataset strings can never become markup (Markdown or HTML), images come
only from the figures the stage wrote, and the outputs are written as one set (a full disk leaves
the previous ones, exit 75). The end-to-end case runs real DVC on a folder dataset whose label
CSV carries hostile class names."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from moodflow.report.document import Bullets, Code, Document, Figure, Paragraph, Plain, Row, Table, render_html, \
    render_markdown

from tests.helpers.failing_disk import tiny_disk
from tests.helpers.pipeline_helpers import REPO, dvc, make_clone
from tests.helpers.report_folders import cv_folds, regression_folder, report_params
from tests.helpers.signals import tone

ALLOWED_TAGS = {"html", "head", "meta", "title", "style", "body", "h1", "h2", "h3", "p", "ul", "li", "table", "tr",
                "th", "td", "figure", "img", "figcaption", "code"}
HOSTILE = ["calm\n![leak]({secret})\nx", "<script>alert(1)</script>", "<img src=x onerror=alert(2)>",
           "a|b\n| --- |\n# title\n1. item", "`code` *bold* _it_ [link](http://example.com) ~~s~~ &amp; \u202etxt",
           "line\r\n\u2028sep<!-- c -->"]


class _Tags(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def _tags(html: str) -> list[tuple[str, dict]]:
    parser = _Tags()
    parser.feed(html)
    return parser.tags


def assert_inert_html(html: str, images: dict[str, bytes] | None = None) -> None:
    """Only the report's own tags, no event handler, no link, every image one of ``images``."""
    tags = _tags(html)
    assert {t for t, _ in tags} <= ALLOWED_TAGS, {t for t, _ in tags} - ALLOWED_TAGS
    for tag, attrs in tags:
        assert not any(a.startswith("on") for a in attrs), (tag, attrs)
        assert "href" not in attrs
        if tag == "img":
            assert attrs["src"].startswith("data:image/png;base64,")
            if images is not None:
                assert base64.b64decode(attrs["src"].split(",", 1)[1]) in images.values()
    values = [str(v) for t, a in tags for k, v in a.items() if not (t == "img" and k == "src")]
    assert not re.search(r"https?:|//[a-z]", " ".join(values))
    assert "@import" not in html and "url(" not in html


def _document(strings: list[str], code: bool = True) -> Document:
    doc = Document(["report: ", strings[0]])
    doc.section(strings[1]).add(
        Paragraph(["labels: ", *[p for s in strings for p in (s, "; ")]]),
        Bullets([[s] for s in strings] + ([[Code(s)] for s in strings] if code else [])),
        Table(["set", strings[2]], [Row([s, Plain("0.5 [0.4, 0.6]")], flag=[s]) for s in strings]),
        Figure("va_plane", "figures/va_plane.png"))
    return doc


def test_hostile_strings_render_as_text_in_markdown_and_html(tmp_path):
    strings = [s.format(secret=tmp_path / "secret.txt") for s in HOSTILE]
    doc = _document(strings)
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 16
    html = render_html(doc, {"va_plane": png, "not_a_figure": b"secret bytes"})
    assert_inert_html(html, {"va_plane": png})
    assert "secret bytes" not in html and base64.b64encode(b"secret bytes").decode() not in html
    assert "&lt;script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    text_only = render_markdown(_document(strings, code=False))  # (code spans show their text literally)
    assert "<script" not in text_only and "<img" not in text_only and "<!--" not in text_only
    md = render_markdown(doc)
    # every image or link in the Markdown is the stage's own figure
    assert re.findall(r"!\[[^\]]*\]\(([^)]*)\)", text_only) == ["figures/va_plane.png"]
    # a real CommonMark renderer sees text only: the same tags as ours, no other image, no link
    markdown_it = pytest.importorskip("markdown_it")
    rendered = markdown_it.MarkdownIt("commonmark").enable("table").enable("strikethrough").render(md)
    tags = _tags(rendered)
    assert {t for t, _ in tags} <= ALLOWED_TAGS | {"thead", "tbody"}, {t for t, _ in tags}
    assert [a["src"] for t, a in tags if t == "img"] == ["figures/va_plane.png"]
    assert not [t for t, _ in tags if t in ("a", "script", "em", "strong", "s", "del", "ol", "blockquote")]
    assert sum(t == "h2" for t, _ in tags) == 1 and sum(t == "h1" for t, _ in tags) == 1  # no injected heading
    for table in re.findall(r"<table>.*?</table>", rendered, flags=re.S):
        rows = re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)
        assert len(rows) == len(strings) + 1 and all(r.count("<td") + r.count("<th") == 3 for r in rows)
    assert rendered.count("<li>") == 2 * len(strings)  # one item per string: a newline started no block


def _regression_models(root: Path, n=40) -> None:
    rng = np.random.default_rng(0)
    ids = [f"s{i:02d}" for i in range(n)]
    labels = pd.DataFrame({"valence": rng.uniform(1, 9, n), "arousal": rng.uniform(1, 9, n)}, index=ids)
    for model, noise in (("ridge", 0.6), ("svm", 1.5)):
        regression_folder(root / f"synthetic/{model}", labels, cv_folds(ids, 4, 1), model=model,
                          predict=lambda t, target, y, f, r, s=noise: y + r.normal(0, s))


def _report_stage(tmp_path: Path, reports: Path, limit: int = 0) -> subprocess.CompletedProcess:
    (tmp_path / "params.yaml").write_text(json.dumps(report_params(["synthetic"], ["ridge", "svm"])))
    command = [sys.executable, str(REPO / "stages/report.py"), str(tmp_path / "models"), str(reports)]
    if limit:  # no mountable disk here: the same failed writes, by a per-file size limit (EFBIG)
        command = [sys.executable, "-c", "import resource, runpy, signal, sys; sys.dont_write_bytecode = True; "
                   "signal.signal(signal.SIGXFSZ, signal.SIG_IGN); "
                   f"resource.setrlimit(resource.RLIMIT_FSIZE, ({limit}, resource.RLIM_INFINITY)); "
                   "sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')", *command[1:]]
    return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "PYTHONPATH": str(REPO)})


OUTPUTS = ("metrics.json", "significance.csv", "comparison.md", "comparison.html", "plots", "figures")


def test_a_full_disk_leaves_the_previous_report_and_exits_75(tmp_path):
    _regression_models(tmp_path / "models")
    with tiny_disk(tmp_path / "disk", "96k") as disk:
        reports = disk or tmp_path / "reports"
        reports.mkdir(exist_ok=True)
        for name in OUTPUTS:  # the previous run's outputs, tiny
            if name in ("plots", "figures"):
                (reports / name).mkdir()
                (reports / name / "old.txt").write_text(f"old {name}\n")
            else:
                (reports / name).write_text(f"old {name}\n")
        proc = _report_stage(tmp_path, reports, limit=0 if disk else 40_000)
        assert proc.returncode == 75, proc.stderr[-3000:]
        last = proc.stderr.strip().splitlines()[-1]
        assert last.startswith("moodflow: error: report: writing ") and "none of the report's outputs was written" in last
        assert ("ENOSPC" in last or "No space left" in last) if disk else ("EFBIG" in last or "too large" in last)
        assert "Traceback" not in proc.stderr
        assert sorted(p.name for p in reports.iterdir()) == sorted(OUTPUTS)  # no staging folder left
        for name in OUTPUTS:
            path = reports / name / "old.txt" if name in ("plots", "figures") else reports / name
            assert path.read_text() == f"old {name}\n"
        assert [p.name for p in (reports / "figures").iterdir()] == ["old.txt"]


def test_the_set_replaces_stale_files_and_is_byte_reproducible(tmp_path):
    _regression_models(tmp_path / "models")
    reports = tmp_path / "reports"
    proc = _report_stage(tmp_path, reports)
    assert proc.returncode == 0, proc.stderr[-3000:]
    first = {p.relative_to(reports): p.read_bytes() for p in sorted(reports.rglob("*")) if p.is_file()}
    assert {Path(n) for n in ("metrics.json", "significance.csv", "comparison.md", "comparison.html",
                              "figures/va_plane.png", "figures/r2_bars.png", "plots/predictions.csv")} <= set(first)
    (reports / "figures/confusion_old-model.png").write_bytes(b"\x89PNG stale from another experiment")
    (reports / "plots/dynamic").mkdir(exist_ok=True)
    (reports / "plots/dynamic/old-run.csv").write_text("time_s\n")
    assert _report_stage(tmp_path, reports).returncode == 0
    again = {p.relative_to(reports): p.read_bytes() for p in sorted(reports.rglob("*")) if p.is_file()}
    assert again == first  # stale figures and plot data gone, every byte the same
    html = (reports / "comparison.html").read_text()
    assert_inert_html(html, {n: b for n, b in first.items() if str(n).startswith("figures/")})
    assert html.count("<img ") == len([n for n in first if str(n).startswith("figures/")])


# -- end to end: a collaborator's label CSV with hostile class names, through `dvc repro` ---------------
@pytest.mark.slow
def test_hostile_class_names_through_dvc_repro(tmp_path):
    secret = tmp_path / "secret.txt"
    token = "SENTINEL-7f3a9c-never-in-a-report"
    secret.write_text(token + "\n")
    classes = [f"calm\n![leak]({secret})\nx", "<script>alert(1)</script>", "<img src=x onerror=alert(2)>"]
    music = tmp_path / "music"
    music.mkdir()
    rows = []
    for i in range(12):
        name = f"clip{i:02d}.wav"
        sf.write(music / name, tone(220.0 * (1 + i % 3), seconds=2.0) * (0.3 + 0.05 * i), 22050)
        rows.append({"file": name, "mood": classes[i % 3]})
    pd.DataFrame(rows).to_csv(music / "labels.csv", index=False)
    repo = make_clone(tmp_path / "repo", {
        "dataset": {"name": "folder", "root": str(music), "folder": {"labels": "labels.csv", "class_column": "mood"}},
        "features": {"sets": ["chroma"], "workers": 1},
        "train": {"models": ["ridge"], "protocol": {"kind": "stratified", "folds": 2},
                  "min_train": 2, "min_test": 1, "min_per_class": 1, "importance": {"repeats": 0}},
    })
    dvc(repo, "repro")
    spec = json.loads((repo / "models/chroma/ridge/model.json").read_text())["label_spec"]
    assert sorted(spec["classes"]) == sorted(classes)  # the names reached the report stage as they are
    reports = repo / "reports"
    for path in reports.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert token.encode() not in data, path
            assert base64.b64encode(token.encode()).decode()[:16].encode() not in data, path
    figures = {p.name: p.read_bytes() for p in (reports / "figures").glob("*.png")}
    assert figures  # the confusion matrix at least
    html = (reports / "comparison.html").read_text()
    assert_inert_html(html, figures)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html and "&lt;img src=x onerror=alert(2)&gt;" in html
    md = (reports / "comparison.md").read_text()
    labels_line = next(line for line in md.splitlines() if line.startswith("- labels: "))
    assert "calm \\!\\[leak\\](" in labels_line and "&lt;script&gt;" in labels_line  # on one line, escaped
    assert all(path.startswith("figures/") for path in re.findall(r"!\[[^\]]*\]\(([^)]*)\)", md))
