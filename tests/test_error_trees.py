"""The error trees drawn in the layers' docstrings are the classes' real hierarchy."""

from __future__ import annotations

import importlib
import re
import textwrap
from types import ModuleType

import pytest

BRANCH = re.compile(r"^(?P<indent>[ │]*)(?:[├└]── )?(?P<name>[A-Z]\w+)\b")


def drawn_parents(module: ModuleType) -> dict[str, str | None]:
    """Each class the module's docstring tree draws, with the class drawn above it."""
    doc = module.__doc__ or ""
    drawing = doc.split("::", 1)[1].strip("\n").split("\n\n", 1)[0]
    lines = textwrap.dedent(drawing).splitlines()
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []  # (column of the name, name)
    for line in lines:
        match = BRANCH.match(line)
        assert match, f"not a tree line: {line!r}"
        column = match.start("name")
        while stack and stack[-1][0] >= column:
            stack.pop()
        parents[match["name"]] = stack[-1][1] if stack else None
        stack.append((column, match["name"]))
    return parents


@pytest.mark.parametrize("name", ["customers.errors", "connectors.errors"])
def test_the_drawn_tree_is_the_class_tree(name: str) -> None:
    module = importlib.import_module(name)
    drawn = drawn_parents(module)
    root = next(cls for cls, parent in drawn.items() if parent is None)
    real = {
        cls.__name__: (cls.__base__.__name__ if cls.__name__ != root else None)
        for cls in vars(module).values()
        if isinstance(cls, type)
        and issubclass(cls, getattr(module, root))
        and cls.__module__ == name
    }
    assert drawn == real
