"""The stage API takes work units, not long argument lists: no public function has more than six parameters."""

from __future__ import annotations

import importlib
import inspect

import pytest

MODULES = ["tasks.stages.run", "tasks.stages.sets", "tasks.generation.generate", "tasks.extractors.registry",
           "tasks.values.metric", "tasks.reporting.summary", "tasks.reporting.trade_off", "flows.evaluate"]


@pytest.mark.parametrize("name", MODULES)
def test_stage_functions_take_at_most_six_parameters(name):
    module = importlib.import_module(name)
    for attr, fn in vars(module).items():
        fn = getattr(fn, "fn", fn)  # a Prefect task's own function
        if attr.startswith("_") or not inspect.isfunction(fn) or fn.__module__ != module.__name__:
            continue
        assert len(inspect.signature(fn).parameters) <= 6, f"{name}.{attr}"
