"""Two structural rules of docs/architecture.md, checked from the source (no imports run):

- private means private: no module imports a `_name` from another module;
- no import circle among the project's modules (module-level imports; an import inside a
  function is a circle too, so those count as well).

Usage: python scripts/check_structure.py [package ...]   (default: commitments tracker accounts)
Exits 1 and lists what it found, else prints "ok".
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def resolve(current: str, is_package: bool, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = current.split(".")
    if not is_package:
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def main(packages: list[str]) -> int:
    files = [
        p for pkg in packages for p in (ROOT / pkg).rglob("*.py") if "migrations" not in p.parts
    ]
    modules = {module_name(p): p for p in files}
    edges: dict[str, set[str]] = {name: set() for name in modules}
    problems = []
    for name, path in modules.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        is_package = path.name == "__init__.py"
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                target = resolve(name, is_package, node)
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    if sub in modules:
                        edges[name].add(sub)
                    elif target in modules:
                        edges[name].add(target)
                        if alias.name.startswith("_") and not alias.name.startswith("__"):
                            problems.append(
                                f"{path.relative_to(ROOT)}:{node.lineno}: "
                                f"imports private {target}.{alias.name}"
                            )
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name in modules:
                        edges[name].add(alias.name)
    # A package's __init__ importing its own submodules is not a circle: drop the edges
    # from a submodule back to a package that contains it.
    for name in edges:
        edges[name] = {t for t in edges[name] if not name.startswith(t + ".")}
    problems += [f"import circle: {' -> '.join(c)}" for c in cycles(edges)]
    print("\n".join(problems) or "ok")
    return 1 if problems else 0


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:] or ["commitments", "tracker", "accounts"]))
