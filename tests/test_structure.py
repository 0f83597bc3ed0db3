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
