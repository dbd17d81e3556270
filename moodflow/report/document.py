"""The report as data, and its two renderings (Markdown and one HTML page) by Jinja2 templates.

A :class:`Document` is sections of paragraphs, bullet lists, tables and figures. Their text is
*lines*: lists of parts, each a plain ``str`` (any text, dataset strings included: always
escaped), :class:`Code` (shown as code, escaped) or :class:`Plain` (text moodflow formatted from
numbers and constants, e.g. ``0.512 [0.431, 0.593]``: left as it is in Markdown, still escaped
in HTML). The Markdown environment escapes every value a template prints unless it is
:class:`Plain`; the HTML environment autoescapes. Newlines and other control characters in
text become spaces, so no string can start a Markdown block or a new table row. Images are only
the report stage's own figures, inlined from the bytes the stage passes (never a path read
from text).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from typing import Iterable, Union

import jinja2
from markupsafe import Markup, escape


class Plain(str):
    """Text moodflow formatted itself (numbers, constants): not Markdown-escaped."""


@dataclass(frozen=True)
class Code:
    """Text shown as code (a setting, a file name): escaped like any text."""

    text: str


Part = Union[str, Plain, Code]
Line = list  # list[Part]


@dataclass
class Paragraph:
    line: Line


@dataclass
class Bullets:
    items: list  # list[Line]


@dataclass
class Row:
    """A table row; ``flag`` (a line) marks it (md: a last column; html: a greyed row)."""

    cells: list  # list[Line | Part]
    flag: Line | None = None


@dataclass
class Table:
    header: list  # list[Part]
    rows: list[Row]

    @property
    def flagged(self) -> bool:
        return any(r.flag for r in self.rows)


@dataclass
class Figure:
    """One of the figures the report stage wrote: its name and its path inside reports/."""

    name: str
    path: str  # posix, relative to reports/ (e.g. figures/va_plane.png)


Block = Union[Paragraph, Bullets, Table, Figure]


@dataclass
class Section:
    title: Line
    level: int = 2
    blocks: list = field(default_factory=list)  # list[Block]

    def add(self, *blocks: Block) -> "Section":
        self.blocks.extend(blocks)
        return self


@dataclass
class Document:
    title: Line
    sections: list[Section] = field(default_factory=list)

    def section(self, *title: Part, level: int = 2) -> Section:
        new = Section(list(title), level)
        self.sections.append(new)
        return new


# -- escaping ----------------------------------------------------------------------------------------
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_MD_SPECIAL = re.compile(r"([\\`*\[\]!|~])")
_LONE_UNDERSCORE = re.compile(r"(?<![A-Za-z0-9])_|_(?![A-Za-z0-9])")
_ENTITY = re.compile(r"&(?=#?[A-Za-z0-9]+;)")  # only an & that would start a character reference
_BLOCK_START = re.compile(r"^([#>+=-]|\d+[.)])")


def clean(text: object) -> str:
    """One line of text: control characters, line and paragraph separators and bidi overrides
    become spaces; runs of spaces one."""
    return re.sub(r" {2,}", " ", _BREAKS.sub(" ", str(text)))


def md_text(text: object) -> str:
    """Text as Markdown that renders as exactly that text (no markup, no HTML, no link, one line)."""
    if isinstance(text, Plain):
        return str(text)
    if isinstance(text, Markup):  # a filter's own output
        return str(text)
    s = _ENTITY.sub("&amp;", clean(text)).replace("<", "&lt;").replace(">", "&gt;")
    s = _MD_SPECIAL.sub(r"\\\1", s)
    return _LONE_UNDERSCORE.sub(r"\\_", s)


def _md_code(text: str, cell: bool = False) -> str:
    body = clean(text).replace("|", "\\|") if cell else clean(text)
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", body)), default=0) + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{ticks}{pad}{body}{pad}{ticks}"


def _parts(line: Line | Part | None) -> Iterable[Part]:
    if line is None:
        return []
    return line if isinstance(line, list) else [line]


def md_line(line: Line | Part | None, cell: bool = False) -> Markup:
    """A line of parts as one Markdown line; a leading character that would start a block is
    escaped. ``cell``: inside a table cell (a pipe in code is escaped too)."""
    out = "".join(_md_code(p.text, cell) if isinstance(p, Code) else md_text(p) for p in _parts(line)).strip()
    if not cell and (m := _BLOCK_START.match(out)):
        out = out[: m.end() - 1] + "\\" + out[m.end() - 1:]
    return Markup(out)


def html_line(line: Line | Part | None) -> Markup:
    """A line of parts as escaped HTML."""
    return Markup("".join(
        f"<code>{escape(clean(p.text))}</code>" if isinstance(p, Code) else str(escape(clean(p)))
        for p in _parts(line)))


def md_url(path: str) -> Markup:
    """A relative path of the report's own files as a Markdown link target (percent-encoded)."""
    from urllib.parse import quote

    return Markup(quote(str(path), safe="/._-+"))


def _md_finalize(value: object) -> object:
    return value if isinstance(value, (int, float)) else md_text(value)


# -- rendering ---------------------------------------------------------------------------------------
_LOADER = jinja2.PackageLoader("moodflow.report", "templates")


def _env(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(loader=_LOADER, autoescape=autoescape, trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True, undefined=jinja2.StrictUndefined,
                             finalize=None if autoescape else _md_finalize)
    env.filters["md"] = md_line
    env.filters["mdcell"] = lambda line: md_line(line, cell=True)
    env.filters["url"] = md_url
    env.filters["heading"] = lambda level: Plain("#" * int(level))
    env.filters["html"] = html_line
    env.tests["table"] = lambda b: isinstance(b, Table)
    env.tests["bullets"] = lambda b: isinstance(b, Bullets)
    env.tests["paragraph"] = lambda b: isinstance(b, Paragraph)
    env.tests["figure"] = lambda b: isinstance(b, Figure)
    return env


def render_markdown(doc: Document) -> str:
    """The report as Markdown (images link to the figure files beside it)."""
    return _env(False).get_template("comparison.md.j2").render(doc=doc)


def render_html(doc: Document, images: dict[str, bytes]) -> str:
    """The report as one self-contained HTML page: ``images`` (figure name → PNG bytes, the
    figures the stage wrote) inlined as data URIs; a figure without bytes is left out."""
    uris = {name: "data:image/png;base64," + base64.b64encode(data).decode("ascii")
            for name, data in images.items() if data[:8] == b"\x89PNG\r\n\x1a\n"}
    return _env(True).get_template("comparison.html.j2").render(doc=doc, images=uris)
