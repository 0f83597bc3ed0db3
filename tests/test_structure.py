"""The shape of the code that docs/development.md promises, checked on the source."""

from __future__ import annotations

import ast
import re
from pathlib import Path

LIBRARY = Path(__file__).resolve().parents[1] / "hopid"


def self_attributes_set(function: ast.FunctionDef) -> set[str]:
    found = set()
    for node in ast.walk(function):
        targets = (
            node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
        )
        for target in targets:
            for part in ast.walk(target):
                if isinstance(part, ast.Attribute) and isinstance(part.value, ast.Name) and part.value.id == "self":
                    found.add(part.attr)
    return found


def test_the_trainer_creates_every_attribute_in_its_constructor():
    tree = ast.parse((LIBRARY / "train" / "loop.py").read_text())
    (trainer,) = [node for node in tree.body if isinstance(node, ast.ClassDef) and node.name == "Trainer"]
    methods = [node for node in trainer.body if isinstance(node, ast.FunctionDef)]
    made = set().union(*(self_attributes_set(m) for m in methods if m.name == "__init__"))
    elsewhere = {m.name: self_attributes_set(m) - made for m in methods if m.name != "__init__"}
    assert not {name: attrs for name, attrs in elsewhere.items() if attrs}


def test_encoders_are_asked_what_they_are_not_probed():
    probe = re.compile(r"hasattr\((self\.)?encoder\b|getattr\((self\.)?encoder\b")
    offenders = [
        f"{path.relative_to(LIBRARY)}:{number}"
        for path in LIBRARY.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if probe.search(line)
    ]
    assert offenders == []


# The packages of hopid/, lowest first: each may import only itself and those before it
# (docs/development.md). Top-level modules (errors, progress, torchrun) are the base of all.
LAYERS = [
    "base",
    "data",
    "ocr",
    "entities",
    "scenetext",
    "models",
    "index",
    "search",
    "eval",
    "synthetic",
    "prepare",
    "train",
    "gallery",
    "viz",
    "explain",
    "serve",
    "bench",
]


def package_of(module: str) -> str:
    """The subpackage of hopid a dotted name lies in; "base" for top-level modules (and hopid itself)."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (LIBRARY / parts[1]).is_dir() else "base"


def library_imports() -> list[tuple[str, str, str]]:
    """Every ``(importing file, importing package, imported package)`` of hopid/, imports inside
    functions and under TYPE_CHECKING included."""
    found = []
    for path in LIBRARY.rglob("*.py"):
        module = ".".join(("hopid", *path.relative_to(LIBRARY).with_suffix("").parts))
        here = package_of(module)
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for name in names:
                if name.startswith("hopid.") or name == "hopid":
                    found.append((str(path.relative_to(LIBRARY)), here, package_of(name)))
    return found


def test_every_package_is_in_the_documented_order():
    packages = {
        package_of(".".join(("hopid", *p.relative_to(LIBRARY).with_suffix("").parts))) for p in LIBRARY.rglob("*.py")
    }
    assert packages <= set(LAYERS), packages - set(LAYERS)


def test_imports_go_down_the_layers_only():
    rank = {name: i for i, name in enumerate(LAYERS)}
    upward = sorted(
        {f"{where}: {here} -> {target}" for where, here, target in library_imports() if rank[target] > rank[here]}
    )
    assert upward == []
