"""An image regenerated with different bytes (non-deterministic kernels, a library upgrade) is then trusted:
its newer generation row wins, so the next run neither regenerates it again nor trips on a checksum."""

import pytest
from PIL import Image

from artifacts import inspect, tables
from artifacts.store import Store, image_rel
from flows.app.cli import run_spec
from tasks.generation import generate
from tests.flows.helpers import t2i_spec

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_regenerated_image_with_new_bytes_is_reused_next_time(tmp_path, tiny_models, monkeypatch):
    spec, store = str(t2i_spec(tmp_path, tiny_models)), Store(tmp_path / "store")
    first = run_spec(spec, str(store.root))
    old = {r["key"]: r["sha256"] for r in inspect.images(store, first["run_id"])}
    for key in old:
        store.remove(image_rel(key))
    png_bytes = generate.png_bytes
    # The same pictures one grey level apart: what a different GPU kernel might give.
    monkeypatch.setattr(generate, "png_bytes", lambda image: png_bytes(Image.eval(image.convert("RGB"), lambda v: v ^ 1)))
    second = run_spec(spec, str(store.root))
    monkeypatch.undo()
    new = {r["key"]: r["sha256"] for r in inspect.images(store, second["run_id"])}
    assert second["counts"]["images_generated"] == len(old) == 6
    assert new.keys() == old.keys() and all(new[k] != old[k] for k in old)

    third = run_spec(spec, str(store.root))
    assert third["counts"]["images_generated"] == 0 and third["counts"]["features_extracted"] == 0
    assert {r["key"]: r["sha256"] for r in inspect.images(store, third["run_id"])} == new
    assert all(store.verify(image_rel(k), sha) for k, sha in new.items())
    rows = tables.read(store, tables.GENERATIONS).to_pylist()
    assert sorted(r["key"] for r in rows) == sorted([*old, *old])  # both rows of each key are kept; the newer wins
