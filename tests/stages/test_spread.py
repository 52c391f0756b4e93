"""Generation batches cut for more workers than batches: whole pipeline calls, every item once, in order."""

from tasks.models.resolve import ResolvedModel
from tasks.values.units import GenerationBatch, Item, Variant
from tasks.spec import GenerationSpec
from tasks.stages.run import spread


def _batch(variant_id: str, count: int, batch_size: int) -> GenerationBatch:
    settings = GenerationSpec(batch_size=batch_size, seeds=[0])
    variant = Variant(variant_id, variant_id, 0, {}, settings, "StableDiffusionPipeline", "cpu", "float32")
    items = tuple(Item(f"{variant_id}{i:03d}", variant_id, variant_id, f"c{i}", 0, 0) for i in range(count))
    return GenerationBatch(variant, ResolvedModel(variant_id, "/nowhere", "fp"), (), items)


def test_one_batch_is_cut_at_pipeline_calls_for_each_worker():
    batch = _batch("a", 10, 3)
    pieces = spread([batch], 2)
    assert [len(p.items) for p in pieces] == [6, 4]  # calls of 3, 3 | 3, 1: the calls one batch would make
    assert [i for p in pieces for i in p.items] == list(batch.items)
    assert all(p.variant is batch.variant and p.model is batch.model for p in pieces)


def test_enough_batches_or_one_worker_leave_them_as_planned():
    batches = [_batch("a", 5, 2), _batch("b", 7, 2)]
    assert spread(batches, 1) == batches and spread(batches, 2) == batches
    pieces = spread(batches, 4)  # 12 items over 4 workers: pieces of 4 (whole calls of 2)
    assert [len(p.items) for p in pieces] == [4, 1, 4, 3]
    assert [i.key for p in pieces for i in p.items] == [i.key for b in batches for i in b.items]
