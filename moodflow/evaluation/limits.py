"""Every limit a protocol will hit, said at once, with the settings that would make it valid.

The train stages refuse a fold that trains on fewer than ``train.min_train`` tracks, tests fewer
than ``train.min_test``, or (classes) trains on fewer than ``train.min_per_class`` tracks of a
class; and a protocol that needs more tracks, tracks of a class or groups than there are
(:mod:`moodflow.evaluation.protocols`). Each of them stops at the first it meets. This module
makes the same folds from the labelled tracks alone (before any audio is decoded) and lists
*every* limit of every part of the run, what each would need, and one set of settings under
which all parts can be scored (see :func:`plan_limits`).
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from moodflow.evaluation.protocols import InsufficientData, make_folds

MAX_SCANNED_FOLDS = 10  # fold counts tried when looking for ones that work


@dataclass
class PartTracks:
    """The tracks of one part of a training run, as the protocol will split them.

    ``classes``: each track's class name when the part learns classes (``classify``) or, for a
    stratified protocol, the class it is stratified on ("" for a track without one); else None.
    ``main``: the run scores nothing when this part cannot be scored (the static task or the
    dynamic one; another label kind is then only left out).
    """

    name: str
    track_ids: np.ndarray
    classes: np.ndarray | None = None
    classify: bool = False
    main: bool = True


@dataclass
class Minima:
    """``train.min_train``, ``train.min_test``, ``train.min_per_class``."""

    train: int
    test: int
    per_class: int


@dataclass
class FoldSizes:
    """The smallest and largest fold of a protocol run (tracks), and per class the fewest
    training tracks of that class in any fold (parts that learn classes)."""

    train: tuple[int, int]
    test: tuple[int, int]
    per_class: dict[str, int] = field(default_factory=dict)

    def fits(self, minima: Minima) -> bool:
        return (self.train[0] >= minima.train and self.test[0] >= minima.test
                and all(n >= minima.per_class for n in self.per_class.values()))


@dataclass
class PartLimits:
    """What one part hits: ``problems`` in words (empty = it can be scored), the fold counts
    that work with the current minima, the most folds the tracks allow, and the fold sizes at
    the current number of folds (None when those folds cannot be made)."""

    part: PartTracks
    kind: str
    problems: list[str]
    sizes: FoldSizes | None
    working_folds: list[int]
    max_folds: int | None
    tracks_needed: str = ""
    fallback: tuple[int, FoldSizes] | None = None  # (most folds the tracks allow, their sizes) when fewer than asked

    @property
    def ok(self) -> bool:
        return not self.problems


def _range(low: int, high: int) -> str:
    return str(low) if low == high else f"{low}–{high}"


def _size_problems(shown: str, sizes: FoldSizes, minima: Minima) -> str:
    """The limits ``sizes`` hit, in one phrase: "5 folds of 12 tracks train on 9–10 tracks <
    train.min_train 20 and test 2–3 tracks < train.min_test 5"."""
    said = []
    if sizes.train[0] < minima.train:
        said.append(f"train on {_range(*sizes.train)} tracks < train.min_train {minima.train}")
    if sizes.test[0] < minima.test:
        said.append(f"test {_range(*sizes.test)} tracks < train.min_test {minima.test}")
    few = {c: n for c, n in sizes.per_class.items() if n < minima.per_class}
    if few:
        listed = ", ".join(f"{n} of {c}" for c, n in few.items())
        said.append(f"train on only {listed.replace(' of ', ' tracks of ', 1)} < train.min_per_class "
                    f"{minima.per_class}")
    return f"{shown} " + " and ".join(said)


def _folds(part: PartTracks, kind: str, folds: int, repeats: int, seed: int, splits: pd.DataFrame | None,
           groups: np.ndarray | None, sides: tuple = ((), ())) -> FoldSizes:
    """The fold sizes of the protocol (InsufficientData / ValueError when it cannot be made);
    ``sides``: kind cross's (train_on, test_on)."""
    run = make_folds(part.track_ids, kind=kind, folds=folds, repeats=repeats, seed=seed, splits=splits,
                     classes=part.classes, groups=groups, train_on=list(sides[0]), test_on=list(sides[1]))
    trains = [len(f.train) for f in run.folds]
    tests = [len(f.test) for f in run.folds]
    per_class: dict[str, int] = {}
    if part.classify and part.classes is not None:
        of = dict(zip(part.track_ids, part.classes))
        names = sorted(set(part.classes.tolist()), key=str)
        for fold in run.folds:
            counts = Counter(of[t] for t in fold.train)
            for c in names:
                per_class[c] = min(per_class.get(c, counts.get(c, 0)), counts.get(c, 0))
    return FoldSizes((min(trains), max(trains)), (min(tests), max(tests)), per_class)


def _resolved_kind(kind: str, part: PartTracks, splits: pd.DataFrame | None) -> str:
    if kind != "auto":
        return kind
    if splits is not None and len(splits):
        return "split"
    return "stratified" if part.classes is not None else "kfold"


def _max_folds(part: PartTracks, kind: str, groups: np.ndarray | None) -> int | None:
    """The most folds these tracks allow (None for a published split)."""
    if kind in ("split", "cross"):
        return None
    if groups is not None:
        return len(set(groups.tolist()))
    if kind == "stratified" and part.classes is not None:
        return min(Counter(part.classes.tolist()).values())
    return len(part.track_ids)


def _tracks_needed(part: PartTracks, kind: str, folds: int, minima: Minima, grouped: bool) -> str:
    """How many tracks (of every class) ``folds`` folds need under ``minima``."""
    if kind in ("split", "cross"):
        return ""
    n = max(folds * minima.test, math.ceil(minima.train * folds / (folds - 1)))
    while n - math.ceil(n / folds) < minima.train or n // folds < minima.test:
        n += 1
    needed = f"{folds} folds need ≥ {n} tracks"
    if part.classify or kind == "stratified":
        per = folds if kind == "stratified" else 1
        while part.classify and per - math.ceil(per / folds) < minima.per_class:
            per += 1
        if per > 1:
            needed += f", ≥ {per} of every class"
    if grouped:
        needed += f", in ≥ {folds} groups"
    return needed


def part_limits(part: PartTracks, *, kind: str, folds: int, repeats: int, seed: int, minima: Minima,
                splits: pd.DataFrame | None = None, groups: np.ndarray | None = None,
                sides: tuple = ((), ())) -> PartLimits:
    """Every limit ``part`` hits under the protocol and the minima, and what would avoid them."""
    resolved = _resolved_kind(kind, part, splits)
    problems: list[str] = []
    sizes = None
    try:
        sizes = _folds(part, kind, folds, repeats, seed, splits, groups, sides)
    except InsufficientData as exc:
        problems.append(str(exc))
    except ValueError as exc:  # a protocol that cannot apply (split without split files, …): its own fix
        return PartLimits(part, resolved, [str(exc).removeprefix("train.protocol.kind: ")], None, [], None)
    shown = ("the published split" if resolved == "split" else "the cross-corpus folds" if resolved == "cross"
             else f"{folds} folds of {len(part.track_ids)} tracks")
    if sizes is not None and not sizes.fits(minima):
        problems.append(_size_problems(shown, sizes, minima))
    most = _max_folds(part, resolved, groups)
    fallback = None  # the most folds the tracks allow, when the asked number cannot be made
    if sizes is None and most is not None and 2 <= most < folds:
        try:
            fallback = (most, _folds(part, kind, most, repeats, seed, splits, groups, sides))
        except (InsufficientData, ValueError):
            fallback = None
        if fallback is not None and not fallback[1].fits(minima):
            allow = "the groups allow" if groups is not None else (
                "the classes allow" if resolved == "stratified" else "these tracks allow")
            problems.append(_size_problems(f"at {most} folds (the most {allow}) they would", fallback[1], minima))
    working = []
    if problems and most is not None:
        for k in range(2, min(most, max(folds, MAX_SCANNED_FOLDS)) + 1):
            try:
                if _folds(part, kind, k, repeats, seed, splits, groups, sides).fits(minima):
                    working.append(k)
            except (InsufficientData, ValueError):
                continue
    needed = _tracks_needed(part, resolved, folds, minima, groups is not None) if problems else ""
    return PartLimits(part, resolved, problems, sizes, working, most, needed, fallback)


@dataclass
class Plan:
    """Every part's limits, and settings under which every part could be scored."""

    parts: list[PartLimits]
    folds: int
    repeats: int
    minima: Minima
    settings: dict[str, int] = field(default_factory=dict)  # -S key → value (empty: none found)

    @property
    def blocking(self) -> bool:
        """Whether the run would score nothing (a main part cannot be scored)."""
        return any(p.part.main and not p.ok for p in self.parts)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.parts)


def plan_limits(parts: list[PartTracks], *, kind: str, folds: int, repeats: int, seed: int, minima: Minima,
                splits: pd.DataFrame | None = None, groups: dict[str, str] | None = None,
                sides: tuple = ((), ())) -> Plan:
    """The limits of every part, and one set of settings that lets all of them be scored: the
    most folds (≤ ``folds``) every part's tracks allow, and the minima lowered to what those
    folds give (never raised)."""
    def group_array(part: PartTracks) -> np.ndarray | None:
        return None if groups is None else np.array([groups.get(t, "") for t in part.track_ids])

    found = [part_limits(p, kind=kind, folds=folds, repeats=repeats, seed=seed, minima=minima, splits=splits,
                         groups=group_array(p), sides=sides) for p in parts]
    plan = Plan(found, folds, repeats, minima)
    if plan.ok:
        return plan
    fold_counts = [p.max_folds for p in found if p.max_folds is not None]
    k = min([folds, *fold_counts]) if fold_counts else folds
    if k < 2:
        return plan
    sizes = []
    for p in found:
        try:
            sizes.append(_folds(p.part, kind, k, repeats, seed, splits, group_array(p.part), sides))
        except (InsufficientData, ValueError):
            return plan
    best = Minima(min([minima.train, *(s.train[0] for s in sizes)]), min([minima.test, *(s.test[0] for s in sizes)]),
                  min([minima.per_class, *(n for s in sizes for n in s.per_class.values())]))
    if min(best.train, best.test) < 1:
        return plan
    if k != folds:
        plan.settings["train.protocol.folds"] = k
    for key, now, then in (("train.min_train", minima.train, best.train), ("train.min_test", minima.test, best.test),
                           ("train.min_per_class", minima.per_class, best.per_class)):
        if then != now:
            plan.settings[key] = then
    return plan


def describe(plan: Plan, *, n_tracks: int, class_counts: dict[str, int] | None = None, kind: str = "auto",
             group: str = "", n_groups: int = 0) -> str:
    """The plan in words: one line for the data and the protocol, one per part that hits a
    limit (what it hits and what would avoid it), one with settings that score everything."""
    data = f"{n_tracks} labelled tracks"
    if class_counts:
        data += " (" + ", ".join(f"{c} {n}" for c, n in class_counts.items()) + ")"
    if group:
        data += f" in {n_groups} groups of {group}"
    lines = [f"{data}; train.protocol {kind}, {plan.folds} folds × {plan.repeats} repeat"
             f"{'s' if plan.repeats != 1 else ''}; train.min_train {plan.minima.train}, "
             f"train.min_test {plan.minima.test}, train.min_per_class {plan.minima.per_class}:"]
    for p in plan.parts:
        if p.ok:
            continue
        fixes = []
        if p.working_folds:
            fixes.append(f"use train.protocol.folds {_folds_phrase(p.working_folds)}")
        if p.fallback is not None:
            most, sizes = p.fallback
            lowered = _lowered(sizes, plan.minima)
            fixes.append(f"use train.protocol.folds ≤ {most}" + (f" and lower {lowered}" if lowered else ""))
        else:
            lowered = _lowered(p.sizes, plan.minima)
            if lowered:
                fixes.append(f"lower {lowered}")
        if p.tracks_needed:
            fixes.append(f"add tracks ({p.tracks_needed})")
        where = f"{p.kind}" if p.part.main else f"{p.kind}; another label kind: only it would be left out"
        lines.append(f"  - {p.part.name} ({where}): " + "; ".join(p.problems)
                     + (f": {', or '.join(fixes)}" if fixes else ""))
    if plan.settings:
        lines.append("  settings that score every part: "
                     + " ".join(f"-S {key}={value}" for key, value in plan.settings.items()))
    return "\n".join(lines)


def _folds_phrase(working: list[int]) -> str:
    if len(working) == 1:
        return f"= {working[0]}"
    if working == list(range(working[0], working[-1] + 1)):
        return f"≤ {working[-1]}" if working[0] == 2 else f"{working[0]}–{working[-1]}"
    return "in " + ", ".join(map(str, working))


def _lowered(sizes: FoldSizes | None, minima: Minima) -> str:
    """The minima lowered to what folds of ``sizes`` give, where they are what fails."""
    if sizes is None:
        return ""
    out = []
    if sizes.train[0] < minima.train:
        out.append(f"train.min_train to {sizes.train[0]}")
    if sizes.test[0] < minima.test:
        out.append(f"train.min_test to {sizes.test[0]}")
    few = [n for n in sizes.per_class.values() if n < minima.per_class]
    if few:
        out.append(f"train.min_per_class to {min(few)}")
    return ", ".join(out[:-1]) + (" and " if len(out) > 1 else "") + out[-1] if out else ""
