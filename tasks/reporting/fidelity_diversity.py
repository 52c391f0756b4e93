"""Fidelity against diversity: per model, precision against recall and density against coverage, per extractor.

FID mixes the two; these points split them (Kynkaenniemi et al. 2019, Naeem et al. 2020). One plot per
model: a point per variant (sweep cell) and extractor, of its `all` rows; up and right is better on both
axes. Reads metric rows named `<quantity>_<extractor>` (tasks/metrics/prdc.py) and nothing else.
"""

from __future__ import annotations

import math
from typing import Sequence

from tasks.values.names import GROUP_ALL, PRDC_QUANTITIES
from tasks.values.units import Variant

PAIRS = (("recall", "precision", "o"), ("coverage", "density", "s"))  # (x: diversity, y: fidelity, marker)


def prdc_points(metrics: list[dict]) -> dict[tuple[str, str], dict[str, float]]:
    """(variant, extractor) -> {quantity: value} from the `all` rows of every `<quantity>_<extractor>` metric."""
    points: dict[tuple[str, str], dict[str, float]] = {}
    for row in metrics:
        quantity, _, extractor = row["metric"].partition("_")
        if row["group"] == GROUP_ALL and quantity in PRDC_QUANTITIES and extractor and math.isfinite(row["value"]):
            points.setdefault((row["model"], extractor), {})[quantity] = float(row["value"])
    return points


def fidelity_diversity_png(metrics: list[dict], variants: Sequence[Variant], model: str) -> bytes | None:
    """One model's plot (None when it has no such rows)."""
    from tasks.reporting.plots import _figure, figure_to_png

    mine = {v.variant_id for v in variants if v.model == model}
    points = {k: v for k, v in prdc_points(metrics).items() if k[0] in mine}
    if not points:
        return None
    fig = _figure(6.0, 4.0)
    ax = fig.add_subplot()
    colours = {e: f"C{i}" for i, e in enumerate(dict.fromkeys(e for _, e in points))}
    for (variant, extractor), values in points.items():
        for x, y, marker in PAIRS:
            if x in values and y in values:
                label = f"{y}/{x} · {extractor}" + (f" · {variant}" if len(mine) > 1 else "")
                ax.scatter(values[x], values[y], marker=marker, color=colours[extractor], label=label)
    ax.set_xlabel("diversity (recall ○, coverage □)")
    ax.set_ylabel("fidelity (precision ○, density □)")
    ax.set_title(f"{model}: fidelity against diversity")
    ax.axhline(1.0, color="0.8", lw=0.8)
    ax.axvline(1.0, color="0.8", lw=0.8)
    ax.legend(fontsize=7, loc="best")
    return figure_to_png(fig)


def fidelity_diversity_imgs(metrics: list[dict], variants: Sequence[Variant]) -> list[str]:
    """The report's <img> per model (empty when no precision / recall rows)."""
    from tasks.reporting.plots import png_to_img

    pngs = [(m, fidelity_diversity_png(metrics, variants, m)) for m in dict.fromkeys(v.model for v in variants)]
    return [png_to_img(png, f"{m}: fidelity against diversity") for m, png in pngs if png is not None]
