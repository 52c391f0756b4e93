"""The report's note on models whose images were made elsewhere: where they came from, what was skipped."""

from __future__ import annotations

import html

from tasks.plan.prepare import Prepared


def outside_section(prepared: Prepared) -> str:
    """One line per outside model: its source and image count, and how many images failed to decode and were skipped."""
    if not prepared.outside:
        return ""
    lines = []
    for variant, source in prepared.outside.items():
        skipped = prepared.skipped.get(variant, [])
        note = f"; {len(skipped)} skipped as undecodable (first: {skipped[0]})" if skipped else ""
        lines.append(f"<li><b>{html.escape(variant)}</b>: {len(source.rows)} images read from "
                     f"{html.escape(source.images.path)} (not generated){html.escape(note)}</li>")
    return f"<h2>Images made elsewhere</h2><ul>{''.join(lines)}</ul>"
