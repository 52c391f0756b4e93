"""The evaluation DAG as one Prefect flow: prepare and plan → generate → extract → score and report.

A step with nothing to do is not run: a warm re-run, every image and feature in the store, is prepare and
plan → score and report (and starts no Dask or Ray workers).

Tasks are thin wrappers over the pure functions in tasks/; they pass small values (keys, paths,
counts) and never ask Prefect to cache or persist results: the store is the cache.
"""

from __future__ import annotations

import hashlib
import re
from typing import Annotated

from prefect import flow, task
from prefect.tasks import exponential_backoff
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.cache_policies import NO_CACHE
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.utilities.annotations import quote
from pydantic import WithJsonSchema

from artifacts import tables
from artifacts.store import Store
from tasks.inputs.network import is_network_error
from flows.run_logs import log_summary, send_diffeval_logs_to_api
from flows.runners import Workers, runner_settings, shipped
from tasks.values.context import RunContext
from tasks.plan.prepare import Prepared, prepare
from tasks.values.units import GenerationBatch
from tasks.stages import run as stages
from tasks.stages.progress import progress_bar
from artifacts.run_ids import new_run_id
from tasks.reporting.summary import RegressionFailed, finish_run, summary_markdown

SHARD_SIZE = 256
# What the CLI already prepared. Only a caller in this process can give it: a deployment's parameter
# form (the UI, `prefect deployment run`) offers it as empty rather than as the whole Prepared model.
AlreadyPrepared = Annotated[Prepared | None, WithJsonSchema({"type": "null", "description": "filled in by `diffeval run`; leave empty"})]


# Only the step that reaches the hub (models, prompt and class sets, reference datasets) retries, and
# only on network errors: bad input fails at once, and generate/extract/score never retry.
HUB_RETRIES = 3
HUB_BACKOFF_S = 10.0  # then 20 s, 40 s: a hub blip at 2 a.m. passes, a real outage fails within ~70 s


def retry_on_network_error(task, task_run, state) -> bool:
    """Prefect's retry_condition_fn: retry when the failure is the network's (tasks/inputs/network.py)."""
    error = state.data if isinstance(state.data, BaseException) else getattr(state.data, "result", None)  # or a ResultRecord's
    return isinstance(error, BaseException) and is_network_error(error)


@task(name="prepare-and-plan", cache_policy=NO_CACHE, retries=HUB_RETRIES,
      retry_delay_seconds=exponential_backoff(backoff_factor=HUB_BACKOFF_S), retry_condition_fn=retry_on_network_error)
def prepare_task(spec_path: str, store_root: str, prepared: Prepared | None = None) -> tuple[Prepared, list[GenerationBatch], tuple | None]:
    """Load the spec, its prompts/classes/edits and models, compute every generation key (unless the
    caller has: `prepared`), and diff the keys against the store (checksums verified): the batches of
    images still to generate. When there are none and every feature is cached too (a warm re-run), also
    the (counts, rows) the extract step would return, so that the run has no extract step."""
    store = Store(store_root)
    if prepared is None:
        prepared = prepare(spec_path, store)
    batches = stages.missing_batches(store, prepared, SHARD_SIZE)
    return prepared, batches, None if batches else stages.all_in_store(store, prepared)


@task(name="generate", cache_policy=NO_CACHE)
def generate_task(store_root: str, batch: GenerationBatch, progress=None) -> int:
    """Generate one batch of one variant's missing images."""
    send_diffeval_logs_to_api()  # a Dask or Ray worker is a process of its own
    return stages.generate_batch(Store(store_root), batch, progress)


@task(name="extract", cache_policy=NO_CACHE)
def extract_task(store_root: str, prepared: Prepared, progress=None) -> tuple[dict, dict]:
    """Cache the features the metrics need (the batches no other worker has leased); return the counts and
    the run's generation rows."""
    send_diffeval_logs_to_api()
    store = Store(store_root)
    rows = stages.generated_rows(store, prepared)
    ctx = RunContext(store, prepared, {k: r["sha256"] for k, r in rows.items()})
    extracted, reused = stages.extract_stage(ctx, progress)
    return {"features_extracted": extracted, "features_reused": reused}, rows


def generate_on(workers: Workers, store_root: str, batches: list[GenerationBatch], progress, upstream: list) -> tuple[list, int]:
    """The generation batches mapped over the workers (cut so that each has some); (futures, images made)."""
    futures = [workers.submit(generate_task, {"store_root": store_root, "batch": shipped(batch), "progress": progress}, upstream)
               for batch in stages.spread(batches, workers.count)]
    return futures, sum(workers.gather(futures))


def extract_on(workers: Workers, store_root: str, prepared: Prepared, progress, upstream: list) -> tuple[list, dict, dict]:
    """The extraction task once per worker; (futures, counts summed, rows). Reused: what this run did not extract."""
    futures = workers.submit_each(extract_task, {"store_root": store_root, "prepared": shipped(prepared), "progress": progress}, upstream)
    results = workers.gather(futures)
    (first, rows), extracted = results[0], sum(counts["features_extracted"] for counts, _ in results)
    total = first["features_extracted"] + first["features_reused"]
    return futures, {"features_extracted": extracted, "features_reused": total - extracted}, rows


@task(name="score-and-report", cache_policy=NO_CACHE)
def score_task(store_root: str, prepared: Prepared, rows: dict, run_id: str, counts: dict) -> dict:
    """Metrics from cached features, the run folder, the report and the regression verdicts."""
    ctx = RunContext(Store(store_root), prepared, {k: r["sha256"] for k, r in rows.items()}, run_id)
    summary = finish_run(ctx, counts, stages.score_stage(ctx))
    tables.compact_all(ctx.store)
    return summary


def _artifact_key(name: str, store_root: str) -> str:
    """diffeval-<spec>-<store id>: runs of one spec against two stores never share a key."""
    store_id = hashlib.sha256(store_root.encode()).hexdigest()[:8]
    return re.sub(r"[^a-z0-9-]+", "-", f"diffeval-{name}".lower()).strip("-") + f"-{store_id}"


@flow(name="diffeval-evaluate", task_runner=ThreadPoolTaskRunner(max_workers=1))
def evaluate(spec_path: str, store: str | None = None, prepared: AlreadyPrepared = None, runner: dict | None = None) -> dict:
    """Evaluate the models of an EvalSpec file; return the run summary (the `diffeval run --json` object).

    `prepared`: the spec already prepared against this store (the CLI checks it before any flow run
    exists); a scheduled run leaves it out and prepares the spec itself. `runner`: overrides of the
    spec's `runner:` (kind, workers, address), as `diffeval run --runner` gives them.
    """
    send_diffeval_logs_to_api()  # a worker's or a served run: diffeval's warnings in the UI too, not only its terminal
    store_root = str(Store(store).root)
    # Futures and wait_for= give each task run its upstream edges (task_inputs): the UI draws the DAG.
    # quote() hides the values from Prefect, so the edges have to be named here.
    planned_future = prepare_task.submit(spec_path, store_root, quote(prepared))
    prepared, batches, in_store = planned_future.result()
    run_id = new_run_id(prepared.spec.name)
    planned = len({i.key for i in prepared.items})
    settings = runner_settings(prepared.spec.runner, runner)  # checked even when no worker is needed
    if in_store is not None:  # every image and feature already in the store: no generate or extract step
        extracted, rows = in_store
        counts = {"images_planned": planned, "images_generated": 0, "images_reused": planned, **extracted}
        upstream = [planned_future]
    else:
        # shipped() is quote(): Prefect would otherwise walk every item of these arguments on each task call.
        with progress_bar() as progress, Workers(settings) as workers:
            shown = progress if workers.in_process else None  # a bar cannot travel to another process
            futures, generated = generate_on(workers, store_root, batches, shown, [planned_future])
            counts = {"images_planned": planned, "images_generated": generated, "images_reused": planned - generated}
            extract_futures, extracted, rows = extract_on(workers, store_root, prepared, shown, futures or [planned_future])
            counts |= extracted
            upstream = workers.settled(extract_futures)
    summary = score_task.submit(store_root, quote(prepared), quote(rows), run_id, counts, wait_for=upstream).result()
    key = _artifact_key(prepared.spec.name, store_root)
    create_table_artifact(key=f"{key}-metrics", table=summary["metrics"], description=f"diffeval metrics of run {run_id}")
    create_markdown_artifact(key=f"{key}-summary", markdown=summary_markdown(summary), description=f"diffeval summary of run {run_id}")
    log_summary(summary)
    if summary["regression_failed"]:
        raise RegressionFailed(summary)
    return summary
