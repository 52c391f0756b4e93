"""The package's import map, counted: arrows between folders, arrows against the layer order, circles.

Reads every .py under artifacts/, tasks/ and flows/ with `ast` (imports inside functions and under
TYPE_CHECKING count too: they are dependencies all the same) and prints

- rooms: the folders that hold modules (tasks/ itself is the room of tasks/*.py);
- arrows: distinct (room -> other room) import pairs;
- against the order: module imports, and arrows, from a room to a room listed AFTER it in LAYERS
  (README "How it is built": each layer imports only the layers listed before it);
- circles: strongly connected groups of more than one module (and of floors).

Usage: python bench/layers.py [--order room,room,...] [--list]
"""

from __future__ import annotations

import argparse
import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("artifacts", "tasks", "flows")
# The README's order, ground floor first: a module imports only floors listed before its own (and its own).
# A floor is a folder, a module file named without .py (tasks/spec), or several of them joined by "|".
LAYERS = ("artifacts", "tasks/values|tasks/spec|tasks/spec_metrics", "tasks/inputs", "tasks/models", "tasks/extractors",
          "tasks/plan", "tasks/generation", "tasks/metrics", "tasks/arena", "tasks/reporting", "tasks/stages", "tasks/demo",
          "flows", "flows/app")


def modules(root: Path = ROOT) -> dict[str, Path]:
    """Dotted module name -> file, for every module of our packages."""
    out = {}
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            parts = path.relative_to(root).with_suffix("").parts
            out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return out


def _target(name: str, known: dict[str, Path]) -> str | None:
    while name and name not in known:
        name = name.rpartition(".")[0]
    return name or None


def imports(known: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (anywhere in its body)."""
    graph: dict[str, set[str]] = defaultdict(set)
    for module, path in known.items():
        package = module if path.name == "__init__.py" else module.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
                names = [f"{base}.{a.name}" for a in node.names] + [base]
            for name in names:
                target = _target(name, known)
                if target and target != module and target.split(".")[0] in PACKAGES:
                    graph[module].add(target)
    return graph


def room(module: str, known: dict[str, Path]) -> str:
    """The folder a module lives in, as a path (tasks/plan); a package's __init__ is its own folder's."""
    path = known[module].relative_to(ROOT)
    return str(path.parent)


def layer_of(room_name: str, order: tuple[str, ...]) -> int | None:
    """The floor of the longest LAYERS entry that is the room or a folder above it (tasks/spec.py: tasks/spec)."""
    best, length = None, -1
    for i, floor in enumerate(order):
        for layer in floor.split("|"):
            if (room_name == layer or room_name.startswith(layer + "/")) and len(layer) > length:
                best, length = i, len(layer)
    return best


def _layer_of_module(module: str, known, order) -> int | None:
    path = str(known[module].relative_to(ROOT).with_suffix(""))
    by_file = layer_of(path, order)  # a module file named as a layer (tasks/spec.py -> tasks/spec)
    return by_file if by_file is not None else layer_of(room(module, known), order)


def sccs(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    nodes = set(graph) | {t for ts in graph.values() for t in ts}

    def visit(start):
        work = [(start, iter(sorted(graph.get(start, ()))))]
        index[start] = low[start] = counter[0]; counter[0] += 1; stack.append(start); on.add(start)
        while work:
            node, it = work[-1]
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]; counter[0] += 1; stack.append(nxt); on.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    break
                if nxt in on:
                    low[node] = min(low[node], index[nxt])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        top = stack.pop(); on.discard(top); comp.append(top)
                        if top == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))

    for node in sorted(nodes):
        if node not in index:
            visit(node)
    return out


def measure(order: tuple[str, ...] = LAYERS, root: Path = ROOT) -> dict:
    known = modules(root)
    graph = imports(known)
    rooms = sorted({room(m, known) for m in known})
    arrows: dict[tuple[str, str], int] = defaultdict(int)
    against: list[tuple[str, str]] = []
    for source, targets in graph.items():
        for target in targets:
            a, b = room(source, known), room(target, known)
            if a != b:
                arrows[(a, b)] += 1
            la, lb = _layer_of_module(source, known, order), _layer_of_module(target, known, order)
            if la is not None and lb is not None and lb > la:
                against.append((source, target))
    floor_graph: dict[int, set[int]] = defaultdict(set)
    for source, targets in graph.items():
        for target in targets:
            a, b = _layer_of_module(source, known, order), _layer_of_module(target, known, order)
            if a is not None and b is not None and a != b:
                floor_graph[a].add(b)
    unplaced = sorted({room(m, known) for m in known if _layer_of_module(m, known, order) is None and graph.get(m)})
    return {"modules": len(known), "rooms": rooms, "arrows": sorted(arrows), "against": sorted(against),
            "against_arrows": sorted({(room(a, known), room(b, known)) for a, b in against}),
            "circles": sccs(graph), "floor_circles": [[order[i] for i in c] for c in sccs(floor_graph)], "unplaced": unplaced}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--order", help="comma-separated rooms, ground floor first (default: LAYERS)")
    parser.add_argument("--list", action="store_true", help="list the arrows against the order and the circles")
    parser.add_argument("--root", default=None, help="another checkout to measure (default: this one)")
    args = parser.parse_args()
    if args.root:
        global ROOT
        ROOT = Path(args.root).resolve()
    order = tuple(args.order.split(",")) if args.order else LAYERS
    m = measure(order, ROOT)
    print(f"{m['modules']} modules in {len(m['rooms'])} rooms; {len(m['arrows'])} arrows between rooms; "
          f"{len(m['against'])} imports ({len(m['against_arrows'])} arrows) against the order; "
          f"{len(m['circles'])} module circles, {len(m['floor_circles'])} floor circles; unplaced rooms: {m['unplaced'] or 'none'}")
    if args.list:
        for a, b in m["against"]:
            print(f"  against: {a} -> {b}")
        for c in m["circles"]:
            print(f"  circle: {' , '.join(c)}")
        for c in m["floor_circles"]:
            print(f"  floor circle: {' , '.join(c)}")


if __name__ == "__main__":
    main()
