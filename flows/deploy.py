"""Deployments: serve the evaluation flow on a cron schedule with a spec file as its parameter."""

from __future__ import annotations

from pathlib import Path

from artifacts.errors import BadInput

# Not prefect.yaml's `nightly`: a served deployment of the same name would replace the work-pool one
# (its pull step, path and schedule), and stopping `serve` would leave it paused.
SERVE_NAME = "nightly-serve"
FLOW_NAME = "diffeval-evaluate"


def check_cron(cron: str) -> None:
    """BadInput unless `cron` is a cron string Prefect accepts."""
    from prefect.client.schemas.schedules import CronSchedule

    try:
        CronSchedule(cron=cron)
    except ValueError:
        raise BadInput(f"--cron '{cron}': not a cron string; pass five fields, such as '0 2 * * *' for 2 a.m. daily") from None


def build_deployment(spec_path: str, cron: str, name: str = "nightly", store: str | None = None):
    """A RunnerDeployment of the evaluation flow on `cron`, the spec path (absolute) as its parameter.

    The cron string and the spec are checked first, the spec as `diffeval run` checks it (BadInput, one
    line, exit 2), so that a spec whose models cannot be loaded is refused now, not at 2 a.m.
    """
    from artifacts.store import Store
    from flows.evaluate import evaluate
    from tasks.plan.prepare import prepare

    check_cron(cron)
    prepare(spec_path, Store(store))

    parameters = {"spec_path": str(Path(spec_path).resolve()), "store": store}
    return evaluate.to_deployment(name=name, cron=cron, parameters=parameters,
                                  description="diffeval scheduled evaluation with regression verdicts")


def check_serve_name(name: str) -> None:
    """BadInput when `name` is taken by a deployment of the flow that a work pool runs (not `serve`)."""
    import asyncio

    from prefect.client.orchestration import get_client
    from prefect.exceptions import ObjectNotFound

    async def read():
        async with get_client() as client:
            try:
                return await client.read_deployment_by_name(f"{FLOW_NAME}/{name}")
            except ObjectNotFound:
                return None

    taken = asyncio.run(read())
    if taken is not None and taken.work_pool_name:
        raise BadInput(f"--name {name}: deployment {FLOW_NAME}/{name} belongs to work pool '{taken.work_pool_name}'; "
                       f"pass another --name (default {SERVE_NAME}) so that serve does not replace it")


def serve(spec_path: str, cron: str, name: str = SERVE_NAME, store: str | None = None) -> None:
    """Check the spec and the name, then serve its deployment from this process until interrupted."""
    from prefect import serve as prefect_serve

    from flows.local_server import local_api

    deployment = build_deployment(spec_path, cron, name, store)
    with local_api():  # checked input first; then the configured API, else the local server (it outlives this process)
        check_serve_name(name)
        prefect_serve(deployment)
