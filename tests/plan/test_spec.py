"""EvalSpec: unknown keys rejected, per-model overrides, sweeps, relative paths."""

import pytest

from artifacts.errors import BadInput
from tasks.spec import load_spec, spec_from_dict

BASE = {"name": "s", "models": [{"name": "a", "path": "CompVis/stable-diffusion-v1-4"}]}


def test_issue_example_shape_parses(tmp_path):
    text = """
name: sd-v14-vs-v15
task: text-to-image
prompts:
  source: parti
  path: null
  columns: {prompt: Prompt, category: Category, challenge: Challenge}
  challenges: [Basic, Complex]
  per_challenge: 2
  sample_seed: 0
models:
  - {name: v1-4, path: CompVis/stable-diffusion-v1-4}
  - {name: v1-5, path: runwayml/stable-diffusion-v1-5, scheduler: DPMSolverMultistepScheduler}
generation: {steps: 25, guidance_scale: 7.5, height: 512, width: 512, seeds: [0],
             images_per_prompt: 1, batch_size: 8, dtype: float16, device: auto}
metrics:
  clip_score: {model: openai/clip-vit-base-patch16}
"""
    (tmp_path / "s.yaml").write_text(text)
    spec = load_spec(tmp_path / "s.yaml")
    assert spec.generation_for(spec.models[1]).scheduler == "DPMSolverMultistepScheduler"
    assert spec.generation_for(spec.models[0]).scheduler is None
    assert spec.resolve_path(spec.models[0].path) == "CompVis/stable-diffusion-v1-4"


@pytest.mark.parametrize("data, fragment", [
    ({**BASE, "stepz": 3}, "unknown key 'stepz'"),
    ({**BASE, "generation": {"steps": 0}}, "generation.steps"),
    ({**BASE, "generation": {"seeds": []}}, "generation.seeds"),
    ({**BASE, "models": [{"name": "a", "path": "x/y", "stepz": 1}]}, "unknown key(s) ['stepz']"),
    ({**BASE, "models": [{"name": "a", "path": "x/y", "steps": -1}]}, "model a: steps"),
    ({**BASE, "generation": {"dtype": "float8"}}, "generation.dtype"),
    ({**BASE, "metrics": {"kid": {"subset_size": 1}}}, "metrics.kid.subset_size"),
])
def test_bad_values_are_one_line(data, fragment):
    with pytest.raises(BadInput) as info:
        spec_from_dict(data)
    assert fragment in str(info.value) and "\n" not in str(info.value)


def test_relative_paths_resolve_against_the_spec_folder(tmp_path):
    (tmp_path / "models" / "sd").mkdir(parents=True)
    spec = spec_from_dict({**BASE, "models": [{"name": "a", "path": "models/sd"}]}, base_dir=tmp_path)
    assert spec.resolve_path("models/sd") == str(tmp_path / "models" / "sd")
    assert spec.resolve_path("./missing") == str(tmp_path / "missing")


def test_sweep_is_cartesian_and_overrides_generation():
    spec = spec_from_dict({**BASE, "sweep": {"steps": [2, 4], "guidance_scale": [1.0, 7.5, 9.0]}})
    cells = spec.sweep.cells()
    assert len(cells) == 6 and cells[0] == {"steps": 2, "guidance_scale": 1.0}
    assert spec.generation_for(spec.models[0], cells[-1]).steps == 4
    seeded = spec_from_dict({**BASE, "sweep": {"seeds": [0, 1]}})
    assert [spec.generation_for(spec.models[0], c).seeds for c in seeded.sweep.cells()] == [[0], [1]]
