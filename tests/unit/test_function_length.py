"""No function over 60 lines in dispatch/, geo/ or stores/: each flow reads in one screen.

Lint has no rule for a function's length, so this test states it (issue 11, item 5). A function
is measured from its ``def`` line to its last line, docstring and nested functions included;
a nested function is also measured on its own. These packages hold no generated data, so nothing
is exempt by nature: a long function is split into named stages.
"""

from __future__ import annotations

import ast
from pathlib import Path

MAX_LINES = 60
ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("dispatch", "geo", "stores")



def long_functions(source: str, name: str) -> list[str]:
    """``name:line function (n lines)`` for every function in ``source`` over ``MAX_LINES``."""
    found = []
    for node in ast.walk(ast.parse(source, filename=name)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            lines = (node.end_lineno or node.lineno) - node.lineno + 1
            if lines > MAX_LINES:
                found.append(f"{name}:{node.lineno} {node.name} ({lines} lines)")
    return sorted(found, key=lambda entry: int(entry.split(":")[1].split()[0]))


def test_no_function_is_longer_than_sixty_lines():
    too_long = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            too_long += long_functions(path.read_text(encoding="utf-8"), name)
    assert too_long == [], (
        f"{len(too_long)} functions over {MAX_LINES} lines; split each into named stages:\n"
        + "\n".join(too_long)
    )


def test_the_length_check_counts_from_def_to_last_line():
    body = "\n".join(f"    x{i} = {i}" for i in range(MAX_LINES - 1))
    fits = f"def fits():\n{body}\n"  # def line + 59 = 60 lines
    over = f"async def over():\n{body}\n    return None\n"  # 61 lines
    nested = f"class C:\n    def method(self):\n        def inner():\n{body}\n            return 1\n"
    assert long_functions(fits, "fits.py") == []
    assert long_functions(over, "over.py") == ["over.py:1 over (61 lines)"]
    assert long_functions(nested.replace("\n    x", "\n            x"), "nested.py") == [
        "nested.py:2 method (62 lines)",
        "nested.py:3 inner (61 lines)",
    ]
