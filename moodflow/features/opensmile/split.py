"""An openSMILE feature-set configuration split for two-pass extraction (``twopass``): an LLD
part without the functionals, every level a ring buffer, with external sinks on the levels the
functionals read; and the functionals, grouped with what reads their output, as stock config
sections to run on external sources. The stock ``.conf`` files are read, their includes
expanded; nothing of openSMILE's own configuration is changed but the buffer sizes.
"""

from __future__ import annotations

import atexit
import functools
import os
import re
import shutil
import tempfile
from dataclasses import dataclass, field

from moodflow.features.opensmile.smile import (
    SINK_LLD, config_root, ring_source_config, check_levels, feature_set_config,
)

RING_FRAMES = 2000  # ring buffer of every LLD level in the LLD pass (20 s at 10 ms)
_INCLUDE = re.compile(r"^\s*\\\{(.+)\}\s*$")
_OPTION = re.compile(r"^\\cm\[([A-Za-z0-9_]+)(\{[^}]*\})?(:[^\]]*)?\]$")
_SECTION = re.compile(r"^\s*\[([^:\]]+):([^\]]+)\]\s*$")
_INSTANCE = re.compile(r"^\s*instance\[([^\]]+)\]\.type\s*=")


@dataclass
class Section:
    name: str
    kind: str
    lines: list[str] = field(default_factory=list)

    def get(self, key: str) -> str:
        for line in self.lines:
            m = re.match(rf"^\s*{re.escape(key)}\s*=\s*(.*?)\s*;?\s*$", line)
            if m:
                return m.group(1)
        return ""

    def levels(self) -> list[str]:
        return [lv.strip() for lv in self.get("reader.dmLevel").split(";") if lv.strip()]

    def render(self, reader: str | None = None) -> list[str]:
        lines = [f"[{self.name}:{self.kind}]"]
        for line in self.lines:
            if reader is not None and re.match(r"^\s*reader\.dmLevel\s*=", line):
                line = f"reader.dmLevel = {reader}"
            lines.append(line)
        return lines


@dataclass
class Group:
    """Functional components run together (with what reads their output) in one pass."""

    functionals: list[Section]
    post: list[Section]
    outputs: list[str]  # the levels it hands to ``func``
    split: bool  # one component feeding ``func`` directly: may run a few columns at a time


@dataclass
class Plan:
    lld_config: str
    inputs: list[str]  # levels the functionals read, spilled in the LLD pass
    groups: list[Group]
    order: list[str]  # the levels ``func`` concatenates, in order
    folder: str


def _inline(path: str, includes: dict[str, str | None]) -> list[str]:
    """The config at ``path`` with every include expanded (``\\cm[option]`` includes from ``includes``)."""
    out: list[str] = []
    folder = os.path.dirname(path)
    with open(path, encoding="utf-8") as f:
        for line in f.read().splitlines():
            m = _INCLUDE.match(line)
            if not m:
                out.append(line)
                continue
            option = _OPTION.match(m.group(1))
            target = includes[option.group(1)] if option else os.path.normpath(os.path.join(folder, m.group(1)))
            if target is not None:
                out.extend(_inline(target, includes))
    return out


def _sections(lines: list[str]) -> list[Section]:
    sections = [Section("", "")]
    for line in lines:
        m = _SECTION.match(line)
        if m:
            sections.append(Section(m.group(1).strip(), m.group(2).strip()))
        else:
            sections[-1].lines.append(line)
    return sections


def _render(sections: list[Section], drop: set[str]) -> list[str]:
    out: list[str] = []
    for s in sections:
        if s.name in drop:
            continue
        head = [f"[{s.name}:{s.kind}]"] if s.name else []
        out += head + [ln for ln in s.lines if not ((m := _INSTANCE.match(ln)) and m.group(1) in drop)]
    return out


@functools.lru_cache(maxsize=None)
def plan(feature_set: str, lld_levels: tuple[str, ...]) -> Plan:
    """How ``feature_set`` splits into the LLD pass and the functionals passes (cached)."""
    check_levels(feature_set, lld_levels)
    root = config_root()
    folder = tempfile.mkdtemp(prefix="moodflow-smile-plan-")
    atexit.register(shutil.rmtree, folder, True)
    ring = os.path.join(folder, "ring_levels.conf.inc")
    with open(ring, "w", encoding="utf-8") as f:
        f.write(f"writer.levelconf.growDyn = 0\nwriter.levelconf.isRb = 1\nwriter.levelconf.nT = {RING_FRAMES}\n")
    includes = {
        "source": ring_source_config(), "sink": None, "bufferModeConf": ring,
        "bufferModeRbConf": os.path.join(root, "shared/BufferModeRb.conf.inc"),
        "bufferModeRbLagConf": os.path.join(root, "shared/BufferModeRbLag.conf.inc"),
        "frameModeFunctionalsConf": os.path.join(root, "shared/FrameModeFunctionals.conf.inc"),
    }
    sections = _sections(_inline(feature_set_config(feature_set), includes))
    writer_of = {s.get("writer.dmLevel"): s for s in sections if s.name}
    concat = writer_of.get("func")
    functionals = [s for s in sections if s.kind == "cFunctionals"]
    if concat is None or not functionals:
        raise ValueError(f"openSMILE {feature_set}: no functionals level 'func' to split")
    # what reads the functionals' output, directly or not (besides the final concatenation)
    derived = {s.get("writer.dmLevel") for s in functionals}
    post: list[Section] = []
    changed = True
    while changed:
        changed = False
        for s in sections:
            if s.name and s is not concat and s not in post and s not in functionals and \
                    any(lv in derived for lv in s.levels()):
                post.append(s)
                derived.add(s.get("writer.dmLevel"))
                changed = True
    order = concat.levels()
    groups: list[Group] = []
    for out in order:
        comp = writer_of[out]
        if comp.kind == "cFunctionals":
            groups.append(Group([comp], [], [out], split=True))
            continue
        needed, stack = [], [comp]  # a post component: the functionals and posts it depends on
        while stack:
            s = stack.pop()
            if s not in needed:
                needed.append(s)
                stack += [writer_of[lv] for lv in s.levels() if lv in derived and lv in writer_of]
        groups.append(Group([s for s in functionals if s in needed], [s for s in post if s in needed], [out],
                             split=False))
    inputs: list[str] = []  # the levels of the functionals that reach ``func``
    for s in (comp for group in groups for comp in group.functionals):
        inputs += [lv for lv in s.levels() if lv not in inputs]
    drop = {s.name for s in functionals + post + [concat]}
    lld = _render(sections, drop) + ["[componentInstances:cComponentManager]",
                                     f"instance[{SINK_LLD}].type=cExternalSink"]
    lld += [f"instance[spill{i}].type=cExternalSink" for i in range(len(inputs))]
    lld += [f"[{SINK_LLD}:cExternalSink]", f"reader.dmLevel = {';'.join(lld_levels)}", "blocksize = 1"]
    for i, lv in enumerate(inputs):
        lld += [f"[spill{i}:cExternalSink]", f"reader.dmLevel = {lv}", "blocksize = 1"]
    path = os.path.join(folder, "lld.conf")
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n".join(lld) + "\n")
    return Plan(path, inputs, groups, order, folder)
