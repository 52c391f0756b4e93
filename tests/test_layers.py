"""The layer order of README "How it is built" is a contract: no import runs against it, and no import circle.

The imports are read with `ast` from every module of artifacts/, tasks/ and flows/ (those inside functions
and under TYPE_CHECKING too); bench/layers.py holds the order and prints the counts.
"""

from __future__ import annotations

import re
from pathlib import Path

from bench.layers import LAYERS, measure

README = Path(__file__).resolve().parents[1] / "README.md"


def test_no_import_runs_against_the_layer_order():
    m = measure()
    assert not m["unplaced"], f"folders on no floor of bench/layers.py LAYERS: {m['unplaced']}; add them to it and the README map"
    assert not m["against"], "imports of a floor listed after the importer's in README 'How it is built': " + "; ".join(f"{a} -> {b}" for a, b in m["against"])


def test_no_import_circle():
    m = measure()
    assert not m["circles"] and not m["floor_circles"], (m["circles"], m["floor_circles"])


def test_the_readme_map_lists_the_floors_in_the_checked_order():
    section = README.read_text().split("## How it is built", 1)[1]
    block = re.search(r"```\n(.*?)```", section, re.S).group(1)
    # Each floor's row starts at the left margin with its first folder (or module file); continuations are indented.
    rows = [re.sub(r"(\.py|/)$", "", line.split()[0]) for line in block.splitlines() if line[:1].isalpha()]
    assert rows == [floor.split("|")[0] for floor in LAYERS]
