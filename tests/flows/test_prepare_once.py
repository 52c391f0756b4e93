"""A CLI run prepares its spec once: the CLI checks it, the flow runs on what was checked."""

import asyncio
import json

import pytest

import tasks.plan.prepare
from flows.app.cli import main
from flows.evaluate import evaluate
from tests.flows.helpers import t2i_spec

pytestmark = pytest.mark.usefixtures("prefect_harness")


@pytest.fixture
def count_condition_loads(monkeypatch) -> list[str]:
    """Every time prepare() reads the spec's prompts (the step that reads and hashes the inputs)."""
    calls = []
    original = tasks.plan.prepare.spec_to_conditions

    def counted(spec, *args, **kwargs):
        calls.append(spec.name)
        return original(spec, *args, **kwargs)

    monkeypatch.setattr(tasks.plan.prepare, "spec_to_conditions", counted)
    return calls


def _flow_run_parameters(spec_path: str) -> dict:
    from prefect.client.orchestration import get_client

    async def read():
        async with get_client() as client:
            return await client.read_flow_runs()

    (run,) = [r for r in asyncio.run(read()) if r.parameters.get("spec_path") == spec_path]
    return run.parameters


def test_a_cli_run_reads_its_inputs_once_and_prefect_records_a_summary(tmp_path, tiny_models, capsys, count_condition_loads):
    spec = t2i_spec(tmp_path, tiny_models)
    assert main(["run", str(spec), "--store", str(tmp_path / "store"), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["counts"]["images_generated"] == 6
    assert count_condition_loads == ["t2i-test"]
    # Prefect keeps flow parameters in its database: a short summary, not every condition and item.
    recorded = _flow_run_parameters(str(spec))["prepared"]
    assert recorded == {"spec": "t2i-test", "spec_path": str(spec.resolve()), "variants": ["a", "b"], "conditions": 3, "images": 6}


def test_a_flow_run_without_a_prepared_spec_prepares_it_itself(tmp_path, tiny_models, count_condition_loads):
    spec = t2i_spec(tmp_path, tiny_models, names=("a",))
    summary = evaluate(spec_path=str(spec), store=str(tmp_path / "store"))  # as a scheduled deployment calls it
    assert summary["counts"]["images_planned"] == 3 and summary["counts"]["images_generated"] == 3
    assert count_condition_loads == ["t2i-test"]


def test_a_deployment_offers_no_prepared_parameter_to_fill_in():
    from prefect.utilities.callables import parameter_schema

    schema = parameter_schema(evaluate.fn).model_dump()
    assert schema["properties"]["prepared"]["type"] == "null" and schema["definitions"] == {}
