"""Pix2PixZero takes no image= argument: invert the source, then edit along the caption direction.

As in the diffusers documentation: DDIM-invert the source image with its input caption, embed the
input and output captions as the source and target directions, and generate from the inverted
latents. The direction is per edit pair, so images are made one at a time.
"""

from __future__ import annotations

from pathlib import Path

PIPELINE = "StableDiffusionPix2PixZeroPipeline"


def load_kwargs(local_dir: str) -> dict:
    """Components a plain Stable Diffusion folder lacks: no captioner (we have captions), an inverse scheduler."""
    from diffusers import DDIMInverseScheduler

    extra = {"caption_generator": None, "caption_processor": None}
    if not (Path(local_dir) / "inverse_scheduler").is_dir():
        extra["inverse_scheduler"] = DDIMInverseScheduler.from_pretrained(local_dir, subfolder="scheduler")
    return extra


def edit_images(pipe, gen, conditions: list[dict], images: list, generators: list) -> list:
    """One edited PIL image per (condition, source image, generator)."""
    out = []
    for condition, image, generator in zip(conditions, images, generators):
        start = generator.get_state()
        latents = pipe.invert(condition["input"], image=image, num_inference_steps=gen.steps, generator=generator).latents
        generator.set_state(start)
        source, target = pipe.get_embeds([condition["input"]]), pipe.get_embeds([condition["output"]])
        out += pipe(condition["input"], source_embeds=source, target_embeds=target, latents=latents,
                    num_inference_steps=gen.steps, guidance_scale=gen.guidance_scale, height=gen.height, width=gen.width,
                    negative_prompt=gen.negative_prompt, generator=generator, output_type="pil").images
    return out
