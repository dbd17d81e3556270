"""docs/params.md, generated from the typed settings: every key, its type, range, default and meaning.

The meaning is a field's ``setting(doc=…)`` or, in the usual style, the comment on the field's
line (or the comment lines just above it) in the settings dataclass; a section's title is its
class docstring. ``python -m moodflow.check.params_doc > docs/params.md`` writes the file;
``tests/test_params_doc.py`` fails when the committed one is stale.
"""

from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import io
import textwrap
import tokenize
import typing
from typing import Any, Iterator, Literal

import yaml

from moodflow.core.config import range_text

HEADER = """# Settings (params.yaml)

Generated from the typed settings by `python -m moodflow.check.params_doc > docs/params.md`
(`tests/test_params_doc.py` fails when this file is stale): do not edit it by hand.

Every key of `params.yaml`, with its type, valid range or choices, default and meaning.
`moodflow check` and the `check` stage refuse an unknown key (with a "did you mean"), a value
of the wrong type and a value outside its range, in one line naming the key. Every number is
finite and has a range: the field's own, else at most 1e12 in magnitude. `params.yaml` lists
every key with exactly its default here, so `dvc exp run -S key=value` needs no `+`.
"""


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|").replace("<", "&lt;")


def _type(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is Literal:
        return " \\| ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, __import__("types").UnionType):
        return " or ".join(_type(a) for a in args)
    if origin in (list, tuple) or hint in (list, tuple):
        items = [a for a in args if a is not Ellipsis]
        return f"list of {_PLURAL.get(items[0], _type(items[0]))}" if len(set(items)) == 1 else "list"
    if origin is dict or hint is dict:
        return f"mapping to {_PLURAL.get(args[1], _type(args[1]))}" if len(args) == 2 else "mapping"
    return {int: "integer", float: "number", str: "string", bool: "true/false", type(None): "null",
            Any: "any"}.get(hint, getattr(hint, "__name__", str(hint)))


_PLURAL = {int: "integers", float: "numbers", str: "strings", bool: "true/false"}


def _numeric(hint: Any) -> bool:
    if hint in (int, float):
        return True
    return any(_numeric(a) for a in typing.get_args(hint) if a is not Ellipsis)


def _range(hint: Any, meta: typing.Mapping[str, Any]) -> str:
    if meta.get("choices"):
        return ", ".join(f"`{c}`" for c in meta["choices"])
    return range_text(meta) if _numeric(hint) else ""


def _default(field: dataclasses.Field) -> str:
    if field.default is not dataclasses.MISSING:
        value = field.default
    elif field.default_factory is not dataclasses.MISSING:
        value = field.default_factory()
    else:
        return "(required)"
    if dataclasses.is_dataclass(value):
        value = dataclasses.asdict(value)
    text = yaml.safe_dump(value, default_flow_style=True, sort_keys=False, width=10**6).strip()
    return f"`{text.removesuffix('...').strip()}`"


@functools.cache
def _comments(cls: type) -> dict[str, str]:
    """Field name → the comment on its line (or the comment lines right above it) in ``cls``."""
    try:
        source = textwrap.dedent(inspect.getsource(cls))
    except (OSError, TypeError):
        return {}
    comments: dict[int, str] = {}
    code_lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
        elif token.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            code_lines.add(token.start[0])
    out = {}
    for node in ast.parse(source).body[0].body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            trailing = [comments[n] for n in range(node.lineno, node.end_lineno + 1) if n in comments]
            above, line = [], node.lineno - 1
            while line in comments and line not in code_lines:
                above.insert(0, comments[line])
                line -= 1
            out[node.target.id] = " ".join(trailing or above)
    return out


def _meaning(cls: type, field: dataclasses.Field) -> str:
    if field.metadata.get("doc"):
        return field.metadata["doc"]
    for owner in cls.__mro__:
        if field.name in getattr(owner, "__annotations__", {}):
            return _comments(owner).get(field.name, "")
    return ""


def _title(cls: type) -> str:
    doc = inspect.getdoc(cls) or ""
    first = doc.split("\n\n")[0].replace("\n", " ") if doc and cls.__doc__ is not None else ""
    return first.replace("``", "`")


def rows(cls: type, where: str, skip: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    """(key, type, range, default, meaning) of every setting of ``cls`` under ``where``."""
    hints = typing.get_type_hints(cls)
    for field in dataclasses.fields(cls):
        if not field.init or field.name in skip:
            continue
        key, hint = f"{where}.{field.name}", hints.get(field.name, Any)
        if dataclasses.is_dataclass(hint):
            yield from rows(hint, key)
            continue
        yield (f"`{key}`", _type(hint), _range(hint, field.metadata), _default(field), _meaning(cls, field))


def _table(cls: type, where: str, title: str = "") -> list[str]:
    lines = [f"### `{where}`", ""]
    about = title or _title(cls)
    if about:
        lines += [_cell(about), ""]
    body = list(rows(cls, where))
    if not body:
        return lines + ["No settings of its own.", ""]
    lines += ["| key | type | range | default | meaning |", "|---|---|---|---|---|"]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in body]
    return lines + [""]


def render() -> str:
    """The text of docs/params.md."""
    from moodflow.datasets import DATASETS
    from moodflow.decode.settings import DecodeSettings
    from moodflow.extract.settings import FeaturesSettings
    from moodflow.features import EXTRACTORS
    from moodflow.models import MODELS
    from moodflow.prepare.settings import DatasetSettings
    from moodflow.train.settings import TrainSettings

    lines = [HEADER, "## Contents", ""]
    sections = (("dataset", DatasetSettings, DATASETS, "adapter"), ("decode", DecodeSettings, None, ""),
                ("features", FeaturesSettings, EXTRACTORS, "extractor"), ("train", TrainSettings, MODELS, "model"))
    for section, _, registry, _ in sections:
        names = f": {', '.join(f'`{section}.{n}`' for n in registry.names())}" if registry else ""
        lines.append(f"- [`{section}`](#{section}){names}")
    lines.append("")
    for section, settings, registry, kind in sections:
        lines += [f"## {section}", ""] + _table(settings, section)[2:]
        for name in registry.names() if registry else ():
            cls = registry.get(name)
            title = f"The {kind} `{name}` ({cls.__module__}). {_title(cls.Config) or _title(cls)}"
            lines += _table(cls.Config, f"{section}.{name}", title)
    return "\n".join(lines).rstrip() + "\n"


if __name__ == "__main__":
    print(render(), end="")
