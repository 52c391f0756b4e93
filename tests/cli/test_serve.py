"""`diffeval serve` checks the spec as `run` does: bad input is one line, exit 2, nothing registered or served."""

import asyncio

import prefect
import pytest
import yaml

from flows.app.cli import main
from tests.flows.helpers import t2i_spec

pytestmark = pytest.mark.usefixtures("prefect_harness")

BAD_MODELS = {
    "missing model folder": ("./no-such-model", "no-such-model': folder does not exist"),
    # What specs/nightly.yaml hits on a machine without its models: `run` refused it, `serve` served it.
    "hub id unreachable offline": ("someone/not-cached-model", "someone/not-cached-model is neither a folder"),
}


@pytest.fixture
def served(monkeypatch) -> list:
    """The deployments `diffeval serve` hands to prefect.serve, which here returns at once instead of serving."""
    calls = []
    monkeypatch.setattr(prefect, "serve", lambda *deployments, **kwargs: calls.extend(deployments))
    return calls


def _deployment_names() -> set[str]:
    from prefect.client.orchestration import get_client

    async def read():
        async with get_client() as client:
            return {d.name for d in await client.read_deployments()}

    return asyncio.run(read())


@pytest.mark.parametrize("case", list(BAD_MODELS))
def test_serve_on_a_bad_spec_is_one_line_exit_2_and_registers_nothing(case, tmp_path, tiny_models, served, capsys):
    spec = t2i_spec(tmp_path, tiny_models)
    data = yaml.safe_load(spec.read_text())
    data["models"][0]["path"], fragment = BAD_MODELS[case]
    spec.write_text(yaml.safe_dump(data))
    name = "bad-" + case.replace(" ", "-")
    rc = main(["serve", str(spec), "--store", str(tmp_path / "store"), "--name", name])
    err = capsys.readouterr()
    lines = [line for line in err.err.splitlines() if line.strip()]
    assert rc == 2 and len(lines) == 1 and lines[0].startswith("diffeval: error: "), err.err
    assert fragment in lines[0], lines[0]
    assert served == [] and name not in _deployment_names()


def test_serve_with_a_bad_cron_is_one_line_exit_2(tmp_path, tiny_models, served, capsys):
    rc = main(["serve", str(t2i_spec(tmp_path, tiny_models)), "--store", str(tmp_path / "store"), "--cron", "every night"])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2 and lines == ["diffeval: error: --cron 'every night': not a cron string; pass five fields, such as '0 2 * * *' for 2 a.m. daily"]
    assert served == []


def test_serve_on_a_good_spec_serves_its_deployment(tmp_path, tiny_models, served):
    spec = t2i_spec(tmp_path, tiny_models)
    assert main(["serve", str(spec), "--store", str(tmp_path / "store"), "--cron", "30 1 * * *", "--name", "good"]) == 0
    (deployment,) = served
    assert deployment.name == "good" and deployment.parameters == {"spec_path": str(spec.resolve()), "store": str(tmp_path / "store")}
    assert deployment.schedules[0].schedule.cron == "30 1 * * *"


def test_a_deployed_run_of_a_bad_spec_fails_with_the_one_line(tmp_path, tiny_models):
    # `prefect deploy` registers from prefect.yaml without asking us; the run's first task refuses the spec.
    from artifacts.errors import BadInput
    from artifacts.store import Store
    from flows.evaluate import evaluate
    from tasks.plan.prepare import prepare

    spec = t2i_spec(tmp_path, tiny_models)
    data = yaml.safe_load(spec.read_text())
    data["models"][0]["path"] = "./no-such-model"
    spec.write_text(yaml.safe_dump(data))
    with pytest.raises(BadInput) as refused:
        prepare(spec, Store(tmp_path / "store"))
    state = evaluate(spec_path=str(spec), store=str(tmp_path / "store"), return_state=True)
    assert state.is_failed() and state.message.endswith(f"BadInput: {refused.value}"), state.message
    assert "\n" not in state.message


def test_serve_refuses_a_name_a_work_pool_deployment_has(tmp_path, tiny_models, served, capsys):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import WorkPoolCreate

    from flows.deploy import build_deployment

    async def create_pool():
        async with get_client() as client:
            await client.create_work_pool(WorkPoolCreate(name="serve-test-pool", type="process"), overwrite=True)

    asyncio.run(create_pool())
    spec = t2i_spec(tmp_path, tiny_models)
    build_deployment(str(spec), "0 2 * * *", "pooled", str(tmp_path / "store")).apply(work_pool_name="serve-test-pool")
    rc = main(["serve", str(spec), "--store", str(tmp_path / "store"), "--name", "pooled"])
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 2 and len(lines) == 1 and "belongs to work pool 'serve-test-pool'" in lines[0], lines
    assert served == []


def test_served_runs_log_to_the_api(tmp_path, tiny_models, served, monkeypatch):
    """The CLI turns API logging off for its own runs; the runs `serve` starts inherit the environment."""
    import flows.app.cli

    monkeypatch.setattr(flows.app.cli, "API_LOGS_OFF_HERE", True)
    monkeypatch.setenv("PREFECT_LOGGING_TO_API_ENABLED", "false")
    assert main(["serve", str(t2i_spec(tmp_path, tiny_models)), "--store", str(tmp_path / "store")]) == 0
    assert "PREFECT_LOGGING_TO_API_ENABLED" not in __import__("os").environ
    assert [d.name for d in served] == ["nightly-serve"]
