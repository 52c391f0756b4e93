"""Image-conditioned inputs: edit pairs as conditions, sources kept in the store, the prompt each pipeline takes."""

from __future__ import annotations

from artifacts.store import Store, ref_rel
from tasks.values.units import Condition
from tasks.spec import EvalSpec

# Which caption a pipeline is prompted with: InstructPix2Pix follows an instruction, the others
# (img2img, Pix2PixZero, any pipeline taking image=) are prompted with the caption of the result.
PROMPT_ROLE = {"StableDiffusionInstructPix2PixPipeline": "edit"}
DEFAULT_ROLE = "output"


def prompt_role(pipeline: str) -> str:
    return PROMPT_ROLE.get(pipeline, DEFAULT_ROLE)


def edits_to_conditions(rows: list[dict], spec: EvalSpec, store: Store) -> list[Condition]:
    """One condition per edit pair; the source image goes into refs/ (content addressed) for generation."""
    conditions = []
    for row in rows:
        if not store.exists(ref_rel(row["image_sha256"])):
            store.write_bytes(ref_rel(row["image_sha256"]), row["image_bytes"])
        texts = {k: row[k] for k in ("input", "edit", "output")}
        conditions.append(Condition(row["edit_id"], {"source_sha256": row["image_sha256"], **texts}, row["output"],
                                    f"{row['edit']} ({row['input']} → {row['output']})", (), {"source_sha256": row["image_sha256"], **texts}))
    return conditions
