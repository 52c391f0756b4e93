"""What `diffeval sets` checks before it writes anything, as `run` does: the options a stats:NAME was saved with
as defaults, errors that name the option the user typed, the small-image rule, and the FID Inception weights."""

from __future__ import annotations

from pathlib import Path

from artifacts.errors import BadInput
from artifacts.store import Store
from artifacts import features
from tasks.extractors import inception
from tasks.extractors.registry import Job
from tasks.inputs.hub import offline_by_env
from tasks.stages.set_inputs import SetInput

WEIGHTS_FIX = "pass --inception-weights PATH to the FID Inception state dict (weights-inception-2015-12-05-6726825d.pth)"
DEFAULT_WEIGHTS = "torch-fidelity default URL"  # what a saved record says when no weights file was given


def saved_defaults(req, inputs: list[SetInput]):
    """The request with the weights and preprocessing a stats:NAME was saved with, where neither a flag nor --spec
    sets them: `sets stats:real-v1 ./other` then reads the features saved (as clean-fid's custom statistics)."""
    saved = next((i.saved["record"] for i in inputs if i.saved is not None), None)
    if saved is None or req.spec:
        return req
    update = {}
    if req.inception_weights is None and saved.get("weights") not in (None, DEFAULT_WEIGHTS):
        update["inception_weights"] = saved["weights"]
    pre = saved.get("preprocess") or {}
    for flag in ("center_crop", "resize", "resize_to", "small"):
        if getattr(req, flag) is None and flag in pre:
            update[flag] = "none" if flag == "center_crop" and pre[flag] is None else pre[flag]
    return req.model_copy(update=update)


# What `run`'s messages call a spec key, in the words of `diffeval sets`' own options and arguments.
IMAGES_WORDS = (("fix images.path", "pass a folder or manifest of images"), ("point images.path at", "pass"),
                ("pass images.columns: {image: COLUMN}", "name the manifest's image column image, file_name or path"))
REFERENCE_WORDS = (("resize: clean or resize: legacy", "--resize clean or --resize legacy"),
                   ("reference.small: ", "--small "), ("reference.center_crop", "--center-crop"),
                   ("reference.resize_to", "--resize-to"), ("reference.resize", "--resize"), ("reference.small", "--small"),
                   ("diffeval sets: --", "--"), ("fix the value (see README 'Spec format')", "fix the option"))


def in_option_words(exc: BadInput, req) -> BadInput:
    """An error names what the user typed: the option (--inception-weights, --center-crop, ...) rather than the spec
    key a run's spec would have, unless the setting came from the --spec file."""
    text = str(exc)
    for spec_words, option in IMAGES_WORDS:
        text = text.replace(spec_words, option)
    if not req.spec:
        for spec_words, option in REFERENCE_WORDS:
            text = text.replace(spec_words, option)
    if req.inception_weights or not req.spec:
        text = text.replace(inception._FIX, WEIGHTS_FIX)
    if req.inception_weights and text.startswith("inception weights /"):  # the resolved path: show the one typed
        text = f"--inception-weights {req.inception_weights}: " + text.split(": ", 1)[1]
    return BadInput(text)


def check_sizes(inputs: list[SetInput], pre) -> None:
    """`small: error` refuses an image smaller than the crop: said now, before anything is written."""
    if pre.center_crop is None or pre.small != "error":
        return
    for inp in inputs:
        for sha, (width, height) in inp.sizes.items():
            if min(width, height) < pre.center_crop:
                raise BadInput(f"{inp.sources.get(sha, sha)}: image is {width}x{height}, smaller than --center-crop "
                               f"{pre.center_crop}; pass --small upscale or skip, or a smaller --center-crop")


def check_weights(store: Store, jobs: list[Job], weights: str | None, device: str, network_resize: str) -> None:
    """Load the FID Inception now (it is cached for the extraction) when any of its features is missing: a wrong,
    corrupt or unreachable weights file stops the command before an image is kept."""
    for job in jobs:
        if job.extractor.name != "inception":
            continue
        if not set(job.inputs) - features.cached_shas(store, job.extractor.fingerprint):
            continue
        if weights is None and offline_by_env() and not default_weights_cached():
            raise BadInput(f"inception weights: the default file is not in {default_weights_path()} and the hub is off "
                           f"(HF_HUB_OFFLINE); {WEIGHTS_FIX}")
        inception.cached_inception(str(Path(weights).expanduser()) if weights else None, device, network_resize)


def default_weights_path() -> Path:
    """Where torch hub keeps the default FID Inception download."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints" / inception.DEFAULT_WEIGHTS_URL.rsplit("/", 1)[-1]


def default_weights_cached() -> bool:
    return default_weights_path().is_file()
