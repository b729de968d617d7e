"""Issue 17: no module of the product over 600 lines without a line at its top saying why."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("intake", "channels", "notifier", "worker", "hotline")
LIMIT = 600


def test_a_long_module_says_why_it_is_long() -> None:
    unexplained = []
    for package in PRODUCT:
        for path in sorted((ROOT / package).rglob("*.py")):
            source = path.read_text(encoding="utf-8")
            if source.count("\n") <= LIMIT:
                continue
            doc = ast.get_docstring(ast.parse(source)) or ""
            if "(Long because" not in "\n".join(doc.splitlines()[:8]):
                unexplained.append(f"{path.relative_to(ROOT)}: {source.count(chr(10))} lines")
    assert not unexplained, unexplained
