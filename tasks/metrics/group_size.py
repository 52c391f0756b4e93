"""Per-group set metrics only where the group is big enough: FID / KID / IS of a class with 2 images say nothing.

A set metric row of a group other than `all` is flagged `below_min_images` when the smaller of its two
sets (real, generated) has fewer images than the spec's `metrics.min_group_images`. Flagged rows stay in
metrics.parquet; the report and the terminal leave them out and say so once. Overall rows always show.
"""

from __future__ import annotations

from tasks.values.names import BELOW_MIN_IMAGES, GROUP_ALL


def group_images(row: dict) -> int:
    """The images behind a set metric row: the smaller of its real and generated sets."""
    record = row["record"]
    return min(record["n_real"], record["n_fake"])


def flag_small_groups(rows: list[dict], minimum: int) -> list[dict]:
    """Every row with its `below_min_images` flag: true for set rows (they carry a `record`) of a group
    other than `all` with fewer than `minimum` images; false for the rest."""
    return [{**r, BELOW_MIN_IMAGES: bool("record" in r and r["group"] != GROUP_ALL and group_images(r) < minimum)}
            for r in rows]


def shown_rows(rows: list[dict]) -> list[dict]:
    """The rows a person sees: all but the flagged ones (rows from before the flag existed all show)."""
    return [r for r in rows if not r.get(BELOW_MIN_IMAGES)]


def left_out_note(rows: list[dict], minimum: int | None = None) -> str:
    """One sentence: how many groups' set metrics were left out and why ("" when none were)."""
    hidden = [r for r in rows if r.get(BELOW_MIN_IMAGES)]
    if not hidden:
        return ""
    groups = list(dict.fromkeys(r["group"] for r in hidden))
    metrics = ", ".join(dict.fromkeys(r["metric"] for r in hidden))
    under = f"fewer than {minimum}" if minimum is not None else "fewer than metrics.min_group_images (default 50)"
    shown = ", ".join(groups[:3]) + (", ..." if len(groups) > 3 else "")
    return (f"{len(groups)} group(s) ({shown}) left out of the per-group {metrics}: {under} images each "
            f"(the smaller of real and generated), too few for a set metric (set metrics.min_group_images to change "
            f"the minimum); their {len(hidden)} row(s) stay in metrics.parquet with {BELOW_MIN_IMAGES} = true.")
