"""EvalSpec: one YAML file says what to evaluate. Validated here, plain values everywhere else."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, SerializeAsAny, ValidationError, field_validator, model_validator

from artifacts.errors import BadInput
from tasks.values.hub_ids import looks_like_hub_id
from tasks.spec_metrics import Frozen, MetricsBase, default_metrics, needing_reference, reference_metric_keys, validate_metrics

Task = Literal["text-to-image", "class-conditional", "image-to-image"]


class PromptsSpec(Frozen):
    source: Literal["builtin", "parti", "drawbench", "geneval", "genai-bench", "file", "hf"] = "builtin"
    path: str | None = None
    split: str = "train"
    columns: dict[str, str] = Field(default_factory=dict)
    challenges: list[str] | None = None
    categories: list[str] | None = None
    per_challenge: int | None = Field(default=None, gt=0)
    limit: int | None = Field(default=None, gt=0)
    sample_seed: int = 0

    @field_validator("columns")
    @classmethod
    def _known_columns(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - {"prompt", "category", "challenge"}
        if unknown:
            raise ValueError(f"unknown column role(s) {sorted(unknown)}; use prompt, category, challenge")
        return value


class GenerationSpec(Frozen):
    steps: int = Field(default=25, gt=0)
    guidance_scale: float = Field(default=7.5, ge=0)
    height: int = Field(default=512, gt=0, multiple_of=8)
    width: int = Field(default=512, gt=0, multiple_of=8)
    seeds: list[int] = Field(default_factory=lambda: [0], min_length=1)
    images_per_prompt: int = Field(default=1, gt=0)
    batch_size: int = Field(default=8, gt=0)
    dtype: Literal["float32", "float16", "bfloat16"] = "float16"
    device: str = "auto"
    scheduler: str | None = None
    negative_prompt: str | None = None
    image_guidance_scale: float | None = Field(default=None, ge=0)
    strength: float | None = Field(default=None, gt=0, le=1)

    @field_validator("device")
    @classmethod
    def _device(cls, value: str) -> str:
        if value not in ("auto", "cpu", "mps") and not value.split(":")[0] == "cuda":
            raise ValueError("use auto, cpu, cuda, cuda:N or mps")
        return value


GENERATION_FIELDS = frozenset(GenerationSpec.model_fields)


IMAGE_ROLES = ("image", "prompt", "class", "edit", "model", "seed")


class ImagesSpec(Frozen):
    """Images made elsewhere, standing in for a pipeline: a folder, a manifest file or a hub dataset.

    columns maps roles (image, prompt, class, edit, model, seed) to column names, as for prompt files;
    model: which rows are this model's where the manifest has a model column (default: the model's name).
    """

    path: str = Field(min_length=1)
    source: Literal["auto", "folder", "file", "hf"] = "auto"
    split: str = "train"
    columns: dict[str, str] = Field(default_factory=dict)
    model: str | None = None
    on_bad_image: Literal["error", "skip"] = "error"

    @field_validator("columns")
    @classmethod
    def _known_roles(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = set(value) - set(IMAGE_ROLES)
        if unknown:
            raise ValueError(f"unknown column role(s) {sorted(unknown)}; use {', '.join(IMAGE_ROLES)}")
        return value


class ModelSpec(Frozen):
    """A model to evaluate: a pipeline (`path`, any generation field overridable), images made elsewhere
    (`images`), or a training run's `checkpoint-<step>` folders (`checkpoints`, with the `base` pipeline
    that UNet-only and LoRA checkpoints apply to)."""

    name: str = Field(min_length=1)
    path: str | None = Field(default=None, min_length=1)
    images: ImagesSpec | None = None
    checkpoints: str | None = Field(default=None, min_length=1)
    base: str | None = Field(default=None, min_length=1)
    revision: str | None = None
    pipeline: str | None = None
    overrides: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _path_or_images(self) -> "ModelSpec":
        if sum(x is not None for x in (self.path, self.images, self.checkpoints)) != 1:
            raise ValueError(f"model {self.name}: give exactly one of path (a pipeline), images (made elsewhere) "
                             "or checkpoints (a training run's output folder)")
        if self.base is not None and self.checkpoints is None:
            raise ValueError(f"model {self.name}: base is the pipeline a checkpoints: folder applies to; "
                             "add checkpoints: or remove base")
        return self

    @property
    def outside(self) -> bool:
        """True when the model's images were made elsewhere (read, not generated)."""
        return self.images is not None

    @model_validator(mode="before")
    @classmethod
    def _collect_overrides(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        own = {"name", "path", "images", "checkpoints", "base", "revision", "pipeline", "overrides"}
        unknown = set(data) - own - GENERATION_FIELDS
        if unknown:
            raise ValueError(f"unknown key(s) {sorted(unknown)}; a model takes name, path (or images, or checkpoints "
                             "and base), revision, pipeline and generation fields")
        overrides = dict(data.get("overrides") or {})
        overrides.update({k: v for k, v in data.items() if k in GENERATION_FIELDS})
        return {**{k: v for k, v in data.items() if k in own}, "overrides": overrides}


class ClassesSpec(Frozen):
    words: list[str] | None = None
    ids: list[int] | None = None
    path: str | None = None
    images_per_class: int | None = Field(default=None, gt=0)

    @model_validator(mode="after")
    def _one_source(self) -> "ClassesSpec":
        if sum(x is not None for x in (self.words, self.ids, self.path)) != 1:
            raise ValueError("give exactly one of words, ids or path")
        return self


class ReferenceSpec(Frozen):
    path: str
    split: str = "train"
    image_column: str = "image"
    label_column: str | None = None
    limit: int | None = Field(default=None, gt=0)
    center_crop: int | None = Field(default=256, gt=0)
    resize: Literal["none", "clean", "legacy"] = "none"
    resize_to: int | None = Field(default=None, gt=0)
    small: Literal["error", "upscale", "skip"] = "upscale"


class EditsSpec(Frozen):
    source: Literal["builtin", "file", "hf"] = "builtin"
    path: str | None = None
    split: str = "train"
    columns: dict[str, str] = Field(default_factory=dict)
    limit: int | None = Field(default=None, gt=0)
    resize: Literal["stretch", "center-crop"] = "center-crop"


class SweepSpec(Frozen):
    seeds: list[int] | None = None
    steps: list[int] | None = None
    scheduler: list[str] | None = None
    guidance_scale: list[float] | None = None
    image_guidance_scale: list[float] | None = None
    strength: list[float] | None = None

    def cells(self) -> list[dict[str, Any]]:
        """The cartesian product of the swept values, in spec order ([{}] when nothing is swept)."""
        axes = {k: v for k, v in self.model_dump().items() if v}
        return [dict(zip(axes, combo)) for combo in itertools.product(*axes.values())]


class RelativeTolerance(Frozen):
    relative: float  # a fraction of the baseline's value: 0.05 allows 5% worse


class RegressionSpec(Frozen):
    # A number is an absolute worsening in the metric's units; {relative: r} is r x |baseline value|.
    tolerance: dict[str, float | RelativeTolerance] = Field(default_factory=dict)
    fail: bool = False


class ReportSpec(Frozen):
    # None: each variant's first seed; "all": every seed; a list: those seeds (a row per seed).
    grid_seeds: Literal["all"] | Annotated[list[int], Field(min_length=1)] | None = None
    # The report's trend plots show this many most recent runs of the spec; 0: no trend plots.
    trend_runs: int = Field(default=10, ge=0)


class RunnerSpec(Frozen):
    """Where generation and extraction batches run (README 'Many GPUs and machines'); not part of any key."""

    kind: Literal["thread", "dask", "ray"] = "thread"
    workers: int | None = Field(default=None, gt=0)  # default: one per GPU (dask, ray), else 1
    gpus_per_worker: int | None = Field(default=None, ge=0)  # default: 1 where there are GPUs, else 0
    address: str | None = None  # an existing Dask scheduler (tcp://host:8786) or Ray cluster (ray://host:10001)
    concurrency: str | None = None  # a Prefect global concurrency limit; each batch task holds one slot

    @model_validator(mode="after")
    def _consistent(self) -> "RunnerSpec":
        if self.kind == "thread" and ((self.workers or 1) > 1 or self.address):
            raise ValueError("kind thread runs one worker here (a pipeline is not thread-safe); use kind: dask or ray for workers or address")
        if self.kind == "dask" and (self.gpus_per_worker or 0) > 1:
            raise ValueError("a Dask CUDA worker holds one GPU; use kind: ray for gpus_per_worker above 1")
        return self


class EvalSpec(Frozen):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    task: Task = "text-to-image"
    prompts: PromptsSpec = Field(default_factory=PromptsSpec)
    classes: ClassesSpec | None = None
    reference: ReferenceSpec | None = None
    edits: EditsSpec | None = None
    models: list[ModelSpec] = Field(min_length=1)
    generation: GenerationSpec = Field(default_factory=GenerationSpec)
    sweep: SweepSpec = Field(default_factory=SweepSpec)
    metrics: SerializeAsAny[MetricsBase] = Field(default_factory=default_metrics)  # a section per built-in metric
    regression: RegressionSpec = Field(default_factory=RegressionSpec)
    report: ReportSpec = Field(default_factory=ReportSpec)
    runner: RunnerSpec = Field(default_factory=RunnerSpec)
    base_dir: str = "."

    @field_validator("metrics", mode="plain")
    @classmethod
    def _metrics(cls, value: Any) -> MetricsBase:
        return validate_metrics(value)

    @model_validator(mode="after")
    def _consistent(self) -> "EvalSpec":
        names = [m.name for m in self.models]
        if len(set(names)) != len(names):
            raise ValueError(f"models: names must be unique (got {names})")
        for model in self.models:
            self.generation_for(model)
        if self.task == "class-conditional" and self.classes is None and not all(m.outside for m in self.models):
            raise ValueError("task class-conditional needs a classes: {words: [...]} or {ids: [...]} section")
        if needing_reference(self.metrics) and self.reference is None:
            raise ValueError(f"metrics {'/'.join(reference_metric_keys())} need a reference: {{path: ...}} section with real images")
        if isinstance(self.report.grid_seeds, list):
            seeds = {s for m in self.models for cell in self.sweep.cells() for s in self.generation_for(m, cell).seeds}
            if not set(self.report.grid_seeds) <= seeds:
                raise ValueError(f"report.grid_seeds: {self.report.grid_seeds} names seeds that are not generated "
                                 f"(seeds: {sorted(seeds)}); list some of those, or use all")
        return self

    def generation_for(self, model: ModelSpec, cell: dict[str, Any] | None = None) -> GenerationSpec:
        """The generation settings of one model in one sweep cell (model overrides, then the cell)."""
        merged = {**self.generation.model_dump(), **model.overrides, **(cell or {})}
        if "seeds" in (cell or {}):
            merged["seeds"] = [cell["seeds"]] if isinstance(cell["seeds"], int) else cell["seeds"]
        try:
            return GenerationSpec(**merged)
        except ValidationError as exc:
            raise ValueError(f"model {model.name}: {_first_error(exc)}") from None

    def resolve_path(self, value: str) -> str:
        """A relative local path resolves against the spec file's folder; hub ids stay as they are."""
        candidate = Path(value).expanduser()
        if candidate.is_absolute():
            return str(candidate)
        local = Path(self.base_dir) / candidate
        if local.exists() or not looks_like_hub_id(value):
            return str(local.resolve())
        return value


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(p) for p in err["loc"]) or "spec"
    return f"{where}: {err['msg']}"


def spec_from_dict(data: dict[str, Any], source: str = "spec", base_dir: str | Path = ".") -> EvalSpec:
    """Validate a spec dict; a problem becomes one BadInput line naming the field."""
    if not isinstance(data, dict):
        raise BadInput(f"{source}: expected a YAML mapping at the top level; see README 'Spec format'")
    try:
        return EvalSpec(**{**data, "base_dir": str(Path(base_dir).resolve())})
    except ValidationError as exc:
        errors = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")
        err = errors[0]
        where = ".".join(str(p) for p in err["loc"]) or "spec"
        if err["type"] == "extra_forbidden":
            raise BadInput(f"{source}: unknown key '{where}'; remove it or check the spelling (see README 'Spec format')") from None
        message = str(err["msg"]).removeprefix("Value error, ")
        raise BadInput(f"{source}: {where}: {message}; fix the value (see README 'Spec format')") from None


def load_spec(path: str | Path) -> EvalSpec:
    """Read and validate an EvalSpec YAML file; relative paths in it resolve against its folder."""
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadInput(f"{path}: spec file not found; pass the path of an EvalSpec YAML file") from None
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise BadInput(f"{path}: cannot read the spec ({type(exc).__name__}); fix the YAML") from None
    return spec_from_dict(data, str(path), path.parent)
