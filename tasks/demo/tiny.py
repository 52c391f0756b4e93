"""Random-weight models in the standard on-disk formats, so they load through from_pretrained like a user's."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import uuid
import zlib
from pathlib import Path
from typing import Callable, Iterator

import diffusers
import numpy as np
import torch
from diffusers import (
    AutoencoderKL,
    DDIMScheduler,
    DiTPipeline,
    DiTTransformer2DModel,
    EulerAncestralDiscreteScheduler,
    PNDMScheduler,
    StableDiffusionInstructPix2PixPipeline,
    UNet2DConditionModel,
)
from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
from torchvision.models import ResNet50_Weights
from transformers import (
    CLIPConfig,
    CLIPImageProcessor,
    CLIPModel,
    CLIPProcessor,
    CLIPTextConfig,
    CLIPTextModel,
)

from artifacts.errors import BadInput
from artifacts.localfs import file_lock
from tasks.demo.tiny_configs import (
    DIT_SCHEDULER,
    PIX2PIX_SCHEDULER,
    SD_SCHEDULER,
    TINY_CLIP_PROJECTION,
    TINY_CLIP_VISION,
    TINY_DIT,
    TINY_VAE,
    clip_b16_config,
    corpus_to_clip_tokenizer,
    save_tokenizer_files,
    sd15_configs,
    special_ids,
    tiny_text_config,
    tiny_unet_config,
)
from tasks.demo.weights import numpy_init_, strip_version_stamps

MARKER = ".diffeval-complete"
INCEPTION_FILE = "inception.pth"
SD_PIPELINES = ("StableDiffusionPipeline", "StableDiffusionImg2ImgPipeline")


def imagenet_id2label() -> dict[int, str]:
    """The 1000 ImageNet-1k class names by class id (torchvision's list, shipped offline): 0 is 'tench'."""
    return dict(enumerate(ResNet50_Weights.IMAGENET1K_V1.meta["categories"]))


@contextlib.contextmanager
def _seeded(seed: int) -> Iterator[None]:
    """Seed the init without touching the caller's global RNG state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def _tiny_sd_parts(seed: int, unet_in_channels: int) -> dict[str, object]:
    """The components of a tiny SD pipeline (all but the scheduler), initialised from `seed`."""
    tokenizer = corpus_to_clip_tokenizer()
    with _seeded(seed):
        unet = numpy_init_(UNet2DConditionModel(**tiny_unet_config(unet_in_channels)), seed, "unet")
        vae = numpy_init_(AutoencoderKL(**TINY_VAE), seed, "vae")
        text_config = CLIPTextConfig(**tiny_text_config(len(tokenizer), special_ids(tokenizer)))
        text_encoder = numpy_init_(CLIPTextModel(text_config), seed, "text_encoder")
    return {"unet": unet, "vae": vae, "text_encoder": text_encoder, "tokenizer": tokenizer,
            "safety_checker": None, "feature_extractor": None, "requires_safety_checker": False}


def _save_sd_pipeline(pipe: diffusers.DiffusionPipeline, out: Path) -> Path:
    """save_pretrained, plus CLIP's vocab.json and merges.txt in tokenizer/."""
    pipe.save_pretrained(out, safe_serialization=True)
    save_tokenizer_files(pipe.tokenizer, out / "tokenizer")
    strip_version_stamps(out)
    return out


def build_tiny_sd(out: Path, seed: int, pipeline: str = "StableDiffusionPipeline") -> Path:
    """Write a tiny random SD folder (64x64 images) whose model_index.json names `pipeline`."""
    if pipeline not in SD_PIPELINES:
        raise BadInput(f"pipeline {pipeline!r}: not a tiny SD pipeline; use one of {', '.join(SD_PIPELINES)}")
    parts = _tiny_sd_parts(seed, unet_in_channels=4)
    pipe = getattr(diffusers, pipeline)(scheduler=PNDMScheduler(**SD_SCHEDULER), **parts)
    return _save_sd_pipeline(pipe, Path(out))


def build_tiny_pix2pix(out: Path, seed: int = 0) -> Path:
    """Write a tiny random InstructPix2Pix folder: the UNet takes noise and image latents (8 channels)."""
    parts = _tiny_sd_parts(seed, unet_in_channels=8)
    scheduler = EulerAncestralDiscreteScheduler(**PIX2PIX_SCHEDULER)
    pipe = StableDiffusionInstructPix2PixPipeline(scheduler=scheduler, **parts)
    return _save_sd_pipeline(pipe, Path(out))


def _clip_folder(out: Path, config: CLIPConfig, image_size: int, seed: int) -> Path:
    """CLIPModel + CLIPProcessor (our tokenizer, a CLIP image processor at image_size) in one folder."""
    tokenizer = corpus_to_clip_tokenizer()
    with _seeded(seed):
        model = numpy_init_(CLIPModel(config), seed, "clip")
    processor = CLIPProcessor(
        image_processor=CLIPImageProcessor(size={"shortest_edge": image_size},
                                           crop_size={"height": image_size, "width": image_size}),
        tokenizer=tokenizer,
    )
    out = Path(out)
    model.save_pretrained(out)
    processor.save_pretrained(out)
    save_tokenizer_files(tokenizer, out)
    strip_version_stamps(out)
    return out


def build_tiny_clip(out: Path) -> Path:
    """Write a tiny random CLIP folder (CLIPModel, tokenizer, 32x32 image processor)."""
    tokenizer = corpus_to_clip_tokenizer()
    config = CLIPConfig(text_config=tiny_text_config(len(tokenizer), special_ids(tokenizer)),
                        vision_config=TINY_CLIP_VISION, projection_dim=TINY_CLIP_PROJECTION)
    return _clip_folder(out, config, TINY_CLIP_VISION["image_size"], seed=0)


def build_tiny_dit(out: Path, seed: int = 0) -> Path:
    """Write a tiny random DiT folder (64x64 images, 1000 classes) with ImageNet labels in model_index.json."""
    id2label = imagenet_id2label()
    with _seeded(seed):
        transformer = numpy_init_(DiTTransformer2DModel(**TINY_DIT), seed, "transformer")
        vae = numpy_init_(AutoencoderKL(**TINY_VAE), seed, "vae")
    pipe = DiTPipeline(transformer=transformer, vae=vae, scheduler=DDIMScheduler(**DIT_SCHEDULER), id2label=id2label)
    out = Path(out)
    pipe.save_pretrained(out)
    # save_pretrained drops id2label (not a registered module); hub DiT folders keep it in model_index.json,
    # which is where from_pretrained reads it back so that get_label_ids works.
    index_path = out / "model_index.json"
    index = json.loads(index_path.read_text())
    index["id2label"] = {str(k): v for k, v in id2label.items()}
    index_path.write_text(json.dumps(index, indent=2) + "\n")
    strip_version_stamps(out)
    return out


class _RandomInceptionV3(FeatureExtractorInceptionV3):
    """torch-fidelity's FID InceptionV3 that keeps its random init where the parent loads weights."""

    def load_state_dict(self, state_dict, strict=True, assign=False):  # noqa: ARG002
        return None


def _calibration_images(seed: int, n: int = 16) -> torch.Tensor:
    """n uint8 64x64 images of random noise at scales from 2 to 64 pixels: smooth blobs to fine grain."""
    rng = np.random.default_rng([seed, zlib.crc32(b"calibration")])
    images = []
    for i in range(n):
        scale = 2 ** (1 + i % 6)
        noise = torch.from_numpy(rng.random((1, 3, scale, scale)))  # float64: rounding below is version-proof
        images.append(torch.nn.functional.interpolate(noise, size=64, mode="bilinear"))
    return (torch.cat(images) * 255).round().to(torch.uint8)


def _calibrate_inception(model: FeatureExtractorInceptionV3, images: torch.Tensor, logit_std: float = 4.0) -> None:
    """Make random Inception features O(1) and its logits vary from image to image."""
    # Default init shrinks activations ~1e-8 by the pool layer; BN statistics measured on real-ish
    # inputs renormalize every layer, as trained BN layers would.
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average: the stats of exactly this batch
    # In float64, so that the kernels torch picks (they differ between releases) change the float32
    # results by far less than their last bit: the calibrated weights are the same bytes on any torch.
    model.double().train()
    model.feature_extractor_internal_dtype = torch.float64
    with torch.no_grad():
        # Batch statistics are what the running ones now hold, so these are the eval-mode features.
        features = model(images)[0].double()
    model.eval()
    with torch.no_grad():
        # Pool features share a large common mean; with it in the logits every image gets the same
        # argmax and Inception Score is degenerate. Project it out, then scale the spread.
        mean = features.mean(0)
        weight = model.fc.weight
        weight -= torch.outer(weight @ mean, mean) / mean.dot(mean)
        weight *= logit_std / ((features - mean) @ weight.T).std()
    model.float()
    model.feature_extractor_internal_dtype = torch.float32


def build_tiny_inception(path: Path, seed: int = 0) -> Path:
    """Write a random-weight FID InceptionV3 state dict, in torch-fidelity's format, to the file `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        # The parent constructor insists on loading a file (or downloading the real weights): hand it an empty one.
        empty = Path(scratch) / "empty.pth"
        torch.save({}, empty)
        with _seeded(seed):
            model = _RandomInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                       feature_extractor_weights_path=str(empty))
    numpy_init_(model, seed, "inception")
    _calibrate_inception(model, _calibration_images(seed))
    torch.save(model.state_dict(), path)
    return path


def build_full_sd15(out: Path) -> Path:
    """Write a random-weight SD-1.5-size StableDiffusionPipeline folder (float32 like the hub, ~4 GB); idempotent."""
    def build(folder: Path) -> None:
        configs, tokenizer = sd15_configs(), corpus_to_clip_tokenizer()
        with _seeded(0):
            unet = numpy_init_(UNet2DConditionModel(**configs["unet"]), 0, "unet")
            vae = numpy_init_(AutoencoderKL(**configs["vae"]), 0, "vae")
            text_encoder = numpy_init_(CLIPTextModel(CLIPTextConfig(**configs["text_encoder"])), 0, "text_encoder")
        pipe = diffusers.StableDiffusionPipeline(
            unet=unet, vae=vae, text_encoder=text_encoder, tokenizer=tokenizer,
            scheduler=PNDMScheduler(**configs["scheduler"]), safety_checker=None, feature_extractor=None,
            requires_safety_checker=False)
        _save_sd_pipeline(pipe, folder)

    return _ensure_built(Path(out), build)


def build_full_clip_b16(out: Path) -> Path:
    """Write a random-weight ViT-B/16-size CLIP folder (float32, ~600 MB) with our tokenizer; idempotent."""
    def build(folder: Path) -> None:
        _clip_folder(folder, CLIPConfig(**clip_b16_config()), image_size=224, seed=0)

    return _ensure_built(Path(out), build)


def _ensure_built(target: Path, build: Callable[[Path], object]) -> Path:
    """Build into a temp folder beside `target`, rename it into place, then write the marker."""
    if (target / MARKER).is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with file_lock(target.parent / f".{target.name}.lock"):
        if (target / MARKER).is_file():  # another process finished it while we waited
            return target
        # A plain mkdir (not mkdtemp's 0700) so the folder gets the usual permissions.
        scratch = target.parent / f".{target.name}.{uuid.uuid4().hex}.tmp"
        try:
            scratch.mkdir()
            build(scratch)
            if target.exists():  # a build that crashed before its marker: never trust it
                shutil.rmtree(target)
            os.replace(scratch, target)
        except BaseException:
            shutil.rmtree(scratch, ignore_errors=True)
            raise
        versions = {"torch": torch.__version__, "diffusers": diffusers.__version__}
        (target / MARKER).write_text(json.dumps(versions) + "\n")
    return target


_TINY_BUILDERS: dict[str, Callable[[Path], object]] = {
    "sd-a": lambda folder: build_tiny_sd(folder, seed=0),
    "sd-b": lambda folder: build_tiny_sd(folder, seed=1),
    "clip": build_tiny_clip,
    "dit": build_tiny_dit,
    "pix2pix": build_tiny_pix2pix,
    "img2img": lambda folder: build_tiny_sd(folder, seed=0, pipeline="StableDiffusionImg2ImgPipeline"),
    "inception": lambda folder: build_tiny_inception(folder / INCEPTION_FILE),
}
TINY_NAMES = tuple(_TINY_BUILDERS)


def build_tiny_models(out_dir: str | Path) -> dict[str, Path]:
    """Build each missing tiny model into out_dir/<name>; return {name: folder}, inception: its .pth file."""
    out_dir = Path(out_dir).expanduser().resolve()
    paths = {name: _ensure_built(out_dir / name, build) for name, build in _TINY_BUILDERS.items()}
    paths["inception"] = paths["inception"] / INCEPTION_FILE
    return paths
