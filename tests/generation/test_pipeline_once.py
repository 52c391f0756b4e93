"""A worker (a process) loads a pipeline once, on the first batch it generates, and keeps it for the next."""

from artifacts.store import Store
from tasks.generation import generate
from tasks.plan.prepare import prepare
from tasks.stages.run import generate_batch, missing_batches
from tests.flows.helpers import t2i_spec


def test_batches_of_one_model_share_one_load(tmp_path, tiny_models, monkeypatch):
    loads = []
    real = generate.load_pipeline
    monkeypatch.setattr(generate, "load_pipeline", lambda *args: loads.append(args[1:]) or real(*args))
    generate.cached_pipeline.cache_clear()
    store = Store(tmp_path / "store")
    spec = t2i_spec(tmp_path, tiny_models, prompts=["a red cat", "a blue dog", "a green circle"], names=("a",),
                    generation={"batch_size": 1, "steps": 1})
    batches = missing_batches(store, prepare(str(spec), store), 1)
    assert len(batches) == 3
    assert sum(generate_batch(store, batch) for batch in batches) == 3
    assert len(loads) == 1
    generate.cached_pipeline.cache_clear()
