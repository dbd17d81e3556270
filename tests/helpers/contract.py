"""What the pipeline contract test reads: dvc.yaml's stages (matrix expanded) and the import
closure of each stage script inside the ``moodflow`` package, found statically from the source.

Static, so lazy imports inside functions count too (DVC must re-run a stage when any code it
may run changes); a registry's ``_MODULES`` table counts as imports of every module it names
(the registry imports them by name at run time).
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
PACKAGE = "moodflow"


@dataclass
class Stage:
    name: str
    script: str
    cmd: str
    deps: list[str]
    params: list[str]


def _lookup(dotted: str, scope: dict):
    node = scope
    for key in dotted.split("."):
        node = node[key]
    return node


def _interpolate(value, scope: dict):
    if isinstance(value, str):
        whole = re.fullmatch(r"\$\{([^}]+)\}", value)
        if whole:
            return _lookup(whole.group(1), scope)
        return re.sub(r"\$\{([^}]+)\}", lambda m: str(_lookup(m.group(1), scope)), value)
    if isinstance(value, list):
        return [_interpolate(v, scope) for v in value]
    if isinstance(value, dict):
        return {k: _interpolate(v, scope) for k, v in value.items()}
    return value


def _param_names(entries) -> list[str]:
    """Declared param keys; ``*`` for a whole file (``- params.yaml:`` with no keys)."""
    names = []
    for entry in entries or []:
        if isinstance(entry, dict):  # {file: [keys]} form; no keys = every key of the file
            for keys in entry.values():
                names += list(keys) if keys else ["*"]
        else:
            names.append(str(entry))
    return names


def _dep_paths(entries) -> list[str]:
    return [str(next(iter(e))) if isinstance(e, dict) else str(e) for e in entries or []]


def stages(repo: Path = REPO, params: dict | None = None) -> list[Stage]:
    """Every stage of dvc.yaml, with ``matrix`` stages expanded over ``params`` (params.yaml)."""
    spec = yaml.safe_load((repo / "dvc.yaml").read_text())
    params = params if params is not None else yaml.safe_load((repo / "params.yaml").read_text())
    for block in spec.get("vars") or []:  # dvc.yaml's own variables (paths), beside params.yaml's
        if isinstance(block, dict):
            params = {**params, **block}
    out = []
    for name, stage in spec["stages"].items():
        combos = [{}]
        if "matrix" in stage:
            matrix = {k: _interpolate(v, params) for k, v in stage["matrix"].items()}
            for key, values in matrix.items():
                combos = [{**c, key: v} for c in combos for v in values]
        for combo in combos:
            scope = {**params, "item": combo}
            cmd = _interpolate(stage["cmd"], scope)
            script = next(w for w in cmd.split() if w.endswith(".py"))
            label = name + ("@" + "-".join(str(v) for v in combo.values()) if combo else "")
            out.append(Stage(label, script, cmd, _dep_paths(_interpolate(stage.get("deps"), scope)),
                             _param_names(_interpolate(stage.get("params"), scope))))
    return out


def module_file(module: str, repo: Path = REPO) -> Path | None:
    """The source file of a ``moodflow`` module (a package's ``__init__.py``), or None."""
    base = repo.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _registry_modules(tree: ast.Module, module: str) -> list[str]:
    """Modules a registry package names in its ``_MODULES = {name: module}`` table."""
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == "_MODULES" for t in targets):
                table = ast.literal_eval(node.value)
                return [f"{module}.{rel}" for rel in table.values()]
    return []


def _imports(path: Path, module: str, repo: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    is_package = path.name == "__init__.py"
    found: set[str] = set(_registry_modules(tree, module)) if is_package else set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = module.split(".")
                base_parts = parts if is_package else parts[:-1]
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            if base.split(".")[0] != PACKAGE:
                continue
            found.add(base)
            for alias in node.names:
                if module_file(f"{base}.{alias.name}", repo) is not None:
                    found.add(f"{base}.{alias.name}")
    return found


def import_closure(script: str | Path, repo: Path = REPO) -> set[Path]:
    """Files of every ``moodflow`` module the script may import (its parents' ``__init__`` too)."""
    script = repo / script
    seen: set[str] = set()
    files: set[Path] = set()
    todo = list(_imports(script, "__main__", repo))
    while todo:
        module = todo.pop()
        parts = module.split(".")
        for i in range(1, len(parts) + 1):  # importing a.b.c runs a/__init__ and a/b/__init__
            name = ".".join(parts[:i])
            if name in seen:
                continue
            seen.add(name)
            path = module_file(name, repo)
            if path is None:
                continue
            files.add(path)
            todo.extend(_imports(path, name, repo))
    return files


def covered(path: str, deps: list[str]) -> bool:
    """Whether a repository-relative ``path`` lies inside one of the declared ``deps``."""
    return any(path == d.rstrip("/") or path.startswith(d.rstrip("/") + "/") for d in deps)


def undeclared_imports(stage: Stage, repo: Path = REPO) -> list[str]:
    """Files the stage's script may import (and the script itself) that no dep covers."""
    files = {stage.script} | {p.relative_to(repo).as_posix() for p in import_closure(stage.script, repo)}
    return sorted(f for f in files if not covered(f, stage.deps))


def undeclared_params(read: set[str], declared: list[str]) -> list[str]:
    """Keys read (dotted) that no declared param (a key or a parent section) covers."""
    return sorted(k for k in read if not any(d == "*" or k == d or k.startswith(d + ".") for d in declared))
