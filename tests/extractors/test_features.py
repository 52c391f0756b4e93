"""The feature cache: vectors round-trip exactly, filtered reads, only missing shas computed."""

import numpy as np

from artifacts.store import Store
from artifacts import features


def test_round_trip_filter_and_missing_only(tmp_path):
    store = Store(tmp_path)
    rng = np.random.default_rng(0)
    vectors = rng.normal(size=(5, 7)).astype(np.float32)
    features.write_features(store, "x", list("abc"), {"v": vectors[:3]})
    features.write_features(store, "x", list("de"), {"v": vectors[3:]})
    assert features.cached_shas(store, "x") == set("abcde")
    got = features.gather(store, "x", ["e", "a", "c"])["v"]
    assert np.array_equal(got, vectors[[4, 0, 2]])
    assert features.read_features(store, "x", {"zz"}).index == {}

    computed = []

    def compute(batch):
        computed.extend(batch)
        return {"v": np.ones((len(batch), 7), np.float32)}

    extracted, reused = features.extract_missing(store, "x", list("abfgf"), lambda shas: shas, compute, batch_size=1)
    assert (extracted, reused) == (2, 2) and sorted(computed) == ["f", "g"]  # batches go in a rotated order
    assert np.array_equal(features.gather(store, "x", ["g"])["v"], np.ones((1, 7), np.float32))
