"""Pix2PixZero, every way it differs from the other pipelines: it edits a source image without taking image=,
loads with components a plain SD folder lacks, inverts with gradients (no inference mode), and makes its
images one at a time: invert the source, then edit along the caption direction.

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


def edits_without_image(pipeline: str) -> bool:
    """It edits a source image although its __call__ takes no image= (the task check lets it through)."""
    return pipeline == PIPELINE


def extra_components(pipeline: str, local_dir: str) -> dict:
    """What from_pretrained needs besides the folder (see load_kwargs); {} for every other pipeline."""
    return load_kwargs(local_dir) if pipeline == PIPELINE else {}


def needs_gradients(pipeline: str) -> bool:
    """Its inversion takes gradients; inference mode would forbid them."""
    return pipeline == PIPELINE


def call_images(pipe, pipeline: str, gen, conditions: list[dict], args: dict, generators: list) -> list:
    """The images of one pipeline call: Pix2PixZero's invert-then-edit, any other pipeline called with `args`."""
    if pipeline == PIPELINE:
        return edit_images(pipe, gen, conditions, args["image"], generators)
    return pipe(generator=generators, **args).images
