"""prefect.yaml's `nightly-tiny`: the deployment a newcomer can run offline after `diffeval models tiny --out tiny-models`.

Its spec, verbatim, in a folder laid out like the repository (specs/ beside tiny-models/): it validates and
prepares (models resolved, prompts read, keys computed) with nothing but the tiny models. Its run through
`prefect deploy` and a real worker is in test_real_server.py.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from artifacts.store import Store
from tasks.plan.prepare import prepare
from tasks.spec import load_spec

REPO = Path(__file__).resolve().parents[2]


def _deployment(name: str) -> dict:
    config = yaml.safe_load((REPO / "prefect.yaml").read_text())
    return next(d for d in config["deployments"] if d["name"] == name)


def test_nightly_tiny_is_nightly_on_the_tiny_models(tiny_models, tmp_path):
    tiny, nightly = _deployment("nightly-tiny"), _deployment("nightly")
    assert (tiny["entrypoint"], tiny["schedules"], tiny["work_pool"]) == (nightly["entrypoint"], nightly["schedules"], nightly["work_pool"])
    assert tiny["parameters"] == {"spec_path": "specs/nightly-tiny.yaml", "store": None}

    (tmp_path / "specs").mkdir()
    (tmp_path / "tiny-models").symlink_to(Path(tiny_models["sd-a"]).parent)
    spec_path = tmp_path / tiny["parameters"]["spec_path"]
    spec_path.write_bytes((REPO / tiny["parameters"]["spec_path"]).read_bytes())
    spec = load_spec(spec_path)
    assert spec.name == "nightly-tiny" and spec.generation.device == "cpu"  # offline and on any machine
    prepared = prepare(spec_path, Store(tmp_path / "store"))
    assert len(prepared.items) == len(prepared.conditions) * len(spec.generation.seeds) > 0
    built = Path(tiny_models["sd-a"]).parent.resolve()
    assert all((spec_path.parent / m.path).resolve().parent == built for m in spec.models)  # the folders `models tiny` builds
