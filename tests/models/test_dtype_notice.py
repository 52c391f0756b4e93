"""float16 on a CPU runs as float32: said once per run, naming the model, and keyed as float32."""

from __future__ import annotations

import logging

from artifacts.store import Store
from tasks.models.resolve import effective_dtype, notice_once
from tasks.plan.prepare import prepare
from tests.flows.helpers import t2i_spec


def test_float16_on_cpu_is_one_notice_per_model_and_run(tmp_path, tiny_models, caplog):
    spec = t2i_spec(tmp_path, tiny_models, generation={"dtype": "float16"}, sweep={"steps": [1, 2]},
                    models=[{"name": "a", "path": str(tiny_models["sd-a"])},
                            {"name": "b", "path": str(tiny_models["sd-b"]), "dtype": "float32"}])
    notice_once.cache_clear()
    with caplog.at_level(logging.WARNING, logger="diffeval"):
        for _ in range(2):  # the CLI checks the spec, then the flow prepares it again
            prepared = prepare(spec, Store(tmp_path / "store"))
    notices = [r.getMessage() for r in caplog.records if "float16" in r.getMessage()]
    assert notices == ["t2i-test: models[a]: dtype float16 on cpu: float32 is used instead (float16 is slow or "
                       "unsupported on a CPU); set generation.dtype: float32 to silence this notice"]
    assert {v.dtype for v in prepared.variants} == {"float32"} and len(prepared.variants) == 4


def test_no_notice_where_nothing_is_substituted(caplog):
    notice_once.cache_clear()
    with caplog.at_level(logging.WARNING, logger="diffeval"):
        assert effective_dtype("float16", "cuda", "s: models[a]") == "float16"
        assert effective_dtype("bfloat16", "cpu", "s: models[a]") == "bfloat16"
        assert effective_dtype("float16", "cpu") == "float32"  # no model named: a key computation, silent
    assert caplog.records == []
