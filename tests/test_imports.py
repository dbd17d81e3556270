"""The package's import graph, read from the sources (issue 28: no import circle, no private
name reached across modules).

Every ``import``/``from … import`` inside ``moodflow/`` counts, lazy ones inside functions too:
a circle that only closes at run time still ties the two modules together. A private name
(``_x``, not a dunder) belongs to its module: another module may not import it (``from
moodflow.core.atomic import _finite``) nor reach it as an attribute (``moodflow._STARTED_BY``),
and a private module (``datasets/_labels.py``) belongs to its package.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def _modules(root: Path) -> dict[str, Path]:
    """Dotted name → file of every module of the ``moodflow`` package under ``root``."""
    out = {}
    for path in sorted((root / "moodflow").rglob("*.py")):
        parts = list(path.relative_to(root).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _imports(module: str, path: Path, modules: dict[str, Path]):
    """(line, imported module, imported name or None, local binding) for each moodflow import."""
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "moodflow":
                    # `import moodflow.a.b` binds `moodflow`; `import moodflow.a.b as x` binds x to moodflow.a.b
                    binding = (alias.asname, alias.name) if alias.asname else (alias.name.split(".")[0], "moodflow")
                    yield node.lineno, alias.name, None, binding
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
                package = package[:len(package) - (node.level - 1)]
                base = ".".join(package + ([base] if base else []))
            if base.split(".")[0] != "moodflow":
                continue
            for alias in node.names:
                submodule = f"{base}.{alias.name}"
                if submodule in modules:
                    yield node.lineno, submodule, None, (alias.asname or alias.name, submodule)
                else:
                    yield node.lineno, base, alias.name, None


def import_graph(root: Path = REPO) -> dict[str, set[str]]:
    """Module → the moodflow modules it imports (anywhere in its code)."""
    modules = _modules(root)
    graph: dict[str, set[str]] = {m: set() for m in modules}
    for module, path in modules.items():
        for _, target, _, _ in _imports(module, path, modules):
            if target in modules and target != module:
                graph[module].add(target)
    return graph


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (each one a circle)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's algorithm
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(circles)


def _attribute_chain(node: ast.Attribute) -> list[str] | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def private_uses(root: Path = REPO) -> list[str]:
    """``file:line: what`` for every private name or private module used outside its owner."""
    modules = _modules(root)
    found = []
    for module, path in modules.items():
        rel = path.relative_to(root).as_posix()
        bound: dict[str, str] = {}
        for line, target, name, binding in _imports(module, path, modules):
            if binding:
                bound[binding[0]] = binding[1]
            if name and _private(name) and target != module:
                found.append(f"{rel}:{line}: imports {name} from {target}")
            parts = target.split(".")
            for i, part in enumerate(parts):
                owner = ".".join(parts[:i])
                if _private(part) and module != owner and not module.startswith(owner + "."):
                    found.append(f"{rel}:{line}: imports the private module {target} from outside {owner}")
                    break
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            chain = _attribute_chain(node) if isinstance(node, ast.Attribute) else None
            if not chain or chain[0] not in bound:
                continue
            target, rest = bound[chain[0]], chain[1:]
            while rest and f"{target}.{rest[0]}" in modules:
                target, rest = f"{target}.{rest[0]}", rest[1:]
            if rest and _private(rest[0]) and target != module:
                found.append(f"{rel}:{node.lineno}: uses {target}.{rest[0]}")
    return sorted(set(found))


def test_the_package_has_no_import_circle():
    assert import_circles(import_graph()) == []


def test_no_private_name_is_used_outside_its_module():
    assert private_uses() == []


def test_the_checks_find_a_circle_and_private_uses(tmp_path):
    """Both checks can fail: a lazy circle, a private import, a private attribute and a private
    module reached from another package are each found."""
    files = {
        "moodflow/__init__.py": "_HIDDEN = 1\n",
        "moodflow/a/__init__.py": "",
        "moodflow/a/one.py": "def f():\n    from moodflow.a.two import g\n    return g\n",
        "moodflow/a/two.py": "from moodflow.a import one\n\ndef g():\n    return one\n",
        "moodflow/a/_inner.py": "from . import one\n",
        "moodflow/b.py": ("import moodflow\nfrom moodflow.a.one import _secret\nfrom moodflow.a import _inner\n"
                          "def h():\n    return moodflow._HIDDEN, moodflow.__doc__\n"),
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    assert import_circles(import_graph(tmp_path)) == [["moodflow.a.one", "moodflow.a.two"]]
    assert private_uses(tmp_path) == [
        "moodflow/b.py:2: imports _secret from moodflow.a.one",
        "moodflow/b.py:3: imports the private module moodflow.a._inner from outside moodflow.a",
        "moodflow/b.py:5: uses moodflow._HIDDEN",
    ]
