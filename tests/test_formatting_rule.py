"""Product code is as the formatter writes it: no ``# fmt: skip`` or ``# fmt: off`` in
the product packages (tests, benches and the sandbox may keep a table they lay out by
hand)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("connectors", "customers", "mappings", "worker")
MARKER = re.compile(r"#\s*fmt:\s*(skip|off)\b")


def test_the_product_packages_carry_no_formatter_opt_out() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}"
        for package in PRODUCT
        for path in sorted((ROOT / package).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if MARKER.search(line)
    ]
    assert found == [], "formatter opt-outs in product code: " + ", ".join(found)
