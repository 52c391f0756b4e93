"""The report's section on how the set metrics were made: rank-deficient covariances, cut settings, recipes."""

from __future__ import annotations

import html

from tasks.reporting.report import html_table

RANK_DEFICIENT_BELOW = 2048  # fewer images than feature dimensions: a singular covariance estimate


def reduced_groups(rows: list[dict]) -> list[str]:
    """'variant group: what was cut' for each set whose KID subset_size or IS splits was cut to fit it."""
    return list(dict.fromkeys(f"{r['model']} {r['group']}: {', '.join(r['record']['reduced'])}"
                              for r in rows if r.get("record", {}).get("reduced")))


def fragility_section(rows: list[dict]) -> str:
    """Report warnings: rank-deficient covariances, and compared rows whose recipes differ."""
    records = [r for r in rows if "record" in r]
    notes = []
    small = sorted({(r["record"]["n_real"], r["record"]["n_fake"]) for r in records if r["record"]["rank_deficient"]})
    if small:
        notes.append(f"Fewer images on a side than feature dimensions ({RANK_DEFICIENT_BELOW} for Inception; n_real, n_fake: "
                     f"{small}): the covariance is rank-deficient and FID / FD-DINOv2 are biased upwards; compare only "
                     "numbers with the same n.")
    reduced = reduced_groups(records)
    if reduced:
        notes.append(f"KID subset_size / IS splits were cut to fit small sets, so those values are noisier and not "
                     f"comparable with uncut ones: {'; '.join(reduced)}.")
    recipes = {(r["metric"], r["record"].get("extractor") or r["record"]["inception"], tuple(r["record"]["real_formats"]))
               for r in records}
    if len(recipes) > len({r["metric"] for r in records}):
        notes.append("Rows of one metric differ in extractor weights, preprocessing or image format: they are not comparable.")
    columns = ["model", "metric", "group", "n_real", "n_fake", "extractor", "preprocess", "real formats", "kid subset_size",
               "is splits", "cmmd estimator"]
    table = html_table([{"model": r["model"], "metric": r["metric"], "group": r["group"], "n_real": r["record"]["n_real"],
                         "n_fake": r["record"]["n_fake"], "extractor": r["record"].get("extractor") or r["record"]["inception"],
                         "preprocess": _preprocess_label(r["record"]["preprocess"]),
                         "real formats": ",".join(r["record"]["real_formats"]), "kid subset_size": r["record"].get("kid_subset_size", ""),
                         "is splits": r["record"].get("is_splits", ""), "cmmd estimator": r["record"].get("cmmd_estimator", "")}
                        for r in records if r["group"] == "all"], columns, "How the set metrics were made")
    warnings = "".join(f"<p class='warn'>⚠ {html.escape(n)}</p>" for n in notes)
    return f"<h2>Set metrics (FID, KID, IS, FD-DINOv2, CMMD)</h2>{warnings}{table}"


def _preprocess_label(pre: dict) -> str:
    """The spec's preprocessing in one cell: crop, resize mode and size (each extractor adds its own, in its fingerprint)."""
    crop = f"crop {pre.get('center_crop')}" if pre.get("center_crop") else "no crop"
    resize = f"resize {pre.get('resize')} {pre.get('resize_to')}" if pre.get("resize", "none") != "none" else "no resize"
    return f"{crop}, {resize}"
