"""The report's Markdown rendered as one self-contained HTML page (comparison.html)."""

from __future__ import annotations

import html
import re
from pathlib import Path

from moodflow.report import figures


def markdown_to_html(text: str, base_dir: Path) -> str:
    """The report's Markdown as one HTML page: images inlined as base64 PNG (opens offline)."""
    body, table = [], []

    def inline(s: str) -> str:
        return re.sub(r"`([^`]+)`", r"<code>\1</code>", html.escape(s, quote=False))

    def flush_table() -> None:
        if table:
            cells = [[c.replace("\\|", "|").strip() for c in re.split(r"(?<!\\)\|", row.strip())[1:-1]] for row in table]
            head, rows = cells[0], cells[2:]
            body.append("<table><tr>" + "".join(f"<th>{inline(c)}</th>" for c in head) + "</tr>"
                        + "".join("<tr>" + "".join(f"<td>{inline(c)}</td>" for c in r) + "</tr>" for r in rows)
                        + "</table>")
            table.clear()

    in_list = False
    for line in text.split("\n"):
        if line.startswith("|"):
            table.append(line)
            continue
        flush_table()
        if in_list and not line.startswith("- "):
            body.append("</ul>")
            in_list = False
        if m := re.match(r"(#+) (.*)", line):
            level = len(m.group(1))
            body.append(f"<h{level}>{inline(m.group(2))}</h{level}>")
        elif m := re.match(r"!\[(.*)\]\((.*)\)", line):
            uri = figures.png_data_uri(base_dir / m.group(2))
            body.append(f'<figure><img alt="{html.escape(m.group(1))}" src="{uri}"><figcaption>{inline(m.group(1))}</figcaption></figure>')
        elif line.startswith("- "):
            if not in_list:
                body.append("<ul>")
                in_list = True
            body.append(f"<li>{inline(line[2:])}</li>")
        elif line.strip():
            body.append(f"<p>{inline(line)}</p>")
    flush_table()
    if in_list:
        body.append("</ul>")
    style = ("body{font-family:sans-serif;max-width:1200px;margin:2em auto}table{border-collapse:collapse;"
             "font-size:13px}td,th{border:1px solid #ccc;padding:3px 6px}img{max-width:100%}")
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>moodflow report</title>"
            f"<style>{style}</style></head><body>\n" + "\n".join(body) + "\n</body></html>\n")
