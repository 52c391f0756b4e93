"""Where the generation and extraction batches run: this process, or Dask / Ray workers, one per GPU.

The flow maps the generation batches (`GenerationBatch`) over the workers, and submits the
extraction task once per worker: the workers divide the extraction batches among themselves with
leases (artifacts/claims.py), as they divide a batch's pipeline calls with those of any other run
on the store, so a worker that dies leaves its work to the others. A worker keeps its pipeline
loaded between tasks (`tasks.generation.generate.cached_pipeline` is a per-process cache).
The thread runner is the flow's own (one worker, in this process), as before there were others. Pinning: dask-cuda's LocalCUDACluster
starts one worker per GPU with CUDA_VISIBLE_DEVICES set to it; Ray gives each task `num_gpus`
and sets CUDA_VISIBLE_DEVICES likewise. Either way a worker's GPU is its `cuda:0`.
"""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from prefect.utilities.annotations import quote
from pydantic import ValidationError

from artifacts.errors import BadInput
from tasks.spec import RunnerSpec


class shipped(quote):
    """`quote` that survives pickling: Prefect's is a tuple subclass that unpickles as quote((value,)),
    which a Dask or Ray worker would then receive as a 1-tuple."""

    __slots__ = ()

    def __reduce__(self):
        return type(self), (self.unwrap(),)


def runner_settings(spec_runner: RunnerSpec, override: dict | None) -> RunnerSpec:
    """The spec's `runner:` with the CLI's --runner/--workers/--address laid over it."""
    given = {k: v for k, v in (override or {}).items() if v is not None}
    if not given:
        return spec_runner
    try:
        return RunnerSpec(**{**spec_runner.model_dump(), **given})
    except ValidationError as exc:
        message = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
        raise BadInput(f"--runner/--workers/--address: {message}; see README 'Many GPUs and machines'") from None


def gpu_count() -> int:
    import torch

    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def _gpus_per_worker(settings: RunnerSpec) -> int:
    return settings.gpus_per_worker if settings.gpus_per_worker is not None else (1 if gpu_count() else 0)


def worker_count(settings: RunnerSpec) -> int:
    """How many copies of each batch task to submit: the workers asked for, else one per GPU, else 1."""
    if settings.workers:
        return settings.workers
    if settings.kind == "thread" or settings.address:
        return 1 if settings.kind == "thread" else 0  # 0: ask the cluster once it is connected
    per = _gpus_per_worker(settings)
    return max(1, gpu_count() // per) if per else 1


def task_runner(settings: RunnerSpec, workers: int):
    """A Prefect task runner for `settings` (not started)."""
    from prefect.task_runners import ThreadPoolTaskRunner

    if settings.kind == "thread":
        return ThreadPoolTaskRunner(max_workers=1)
    if settings.kind == "dask":
        dask_runner = _need("prefect_dask", "DaskTaskRunner", "dask")
        if settings.address:
            return dask_runner(address=settings.address)
        logging.getLogger("distributed").setLevel(logging.WARNING)  # the scheduler runs here and chats at INFO
        logging.getLogger("distributed.nanny").setLevel(logging.ERROR)  # "still alive after 4 s, killing" at every close
        _keep_malloc_defaults()
        common = {"n_workers": workers, "threads_per_worker": 1, "silence_logs": logging.ERROR, "dashboard_address": None}
        if _gpus_per_worker(settings):
            return dask_runner(cluster_class=_need("dask_cuda", "LocalCUDACluster", "gpu-dask"), cluster_kwargs=common)
        return dask_runner(cluster_class="distributed.LocalCluster", cluster_kwargs={**common, "processes": True})
    ray_runner = _need("prefect_ray", "RayTaskRunner", "ray")
    if settings.address:
        return ray_runner(address=settings.address)
    per = _gpus_per_worker(settings)
    # One CPU thread per worker, as Dask's nanny sets it: the same float rounding whichever runner made an image.
    return ray_runner(init_kwargs={"num_cpus": workers, "num_gpus": workers * per, "include_dashboard": False,
                                   "log_to_driver": False, "runtime_env": {"env_vars": {"OMP_NUM_THREADS": "1"}}})


def _keep_malloc_defaults() -> None:
    """Start Dask workers without MALLOC_TRIM_THRESHOLD_=65536, which Dask's nanny sets by default: with it,
    glibc hands memory back after every torch step and a tiny-model CPU worker runs 1.5-2x slower."""
    import dask
    import distributed  # noqa: F401 - loads the distributed.* defaults into dask.config

    environ = dict(dask.config.get("distributed.nanny.pre-spawn-environ", {}))
    if environ.pop("MALLOC_TRIM_THRESHOLD_", None) is not None:
        dask.config.set({"distributed.nanny.pre-spawn-environ": environ})


def _need(module: str, name: str, extra: str) -> Any:
    import importlib

    try:
        return getattr(importlib.import_module(module), name)
    except ImportError:
        raise BadInput(f"runner: {module} is not installed; pip install 'diffeval[{extra}]' "
                       "or use runner kind: thread") from None


class Workers:
    """The task runner batches go to and how many workers it has (started on entering; thread: the flow's own)."""

    def __init__(self, settings: RunnerSpec):
        self.settings = settings
        self.count = worker_count(settings)
        self.gpus = _gpus_per_worker(settings)
        self.in_process = settings.kind == "thread"
        self._stack = contextlib.ExitStack()

    def __enter__(self) -> "Workers":
        if self.in_process:
            return self
        self.runner = self._stack.enter_context(task_runner(self.settings, self.count or 1))
        if self.settings.kind == "ray" and self.settings.address and self.settings.gpus_per_worker is None:
            import ray

            self.gpus = 1 if ray.cluster_resources().get("GPU", 0) else 0  # the cluster's GPUs, not this host's
        if not self.count:
            self.count = _cluster_workers(self.settings, self.runner, self.gpus)
        return self

    def __exit__(self, *exc) -> None:
        self._stack.__exit__(*exc)

    def submit(self, task, parameters: dict, upstream: list) -> Any:
        """One run of `task` (with one GPU slot on Ray), after `upstream` (its edges in the flow's DAG)."""
        if self.settings.concurrency:
            task = task.with_options(tags=[self.settings.concurrency])
        if self.in_process:
            return task.submit(**parameters, wait_for=upstream)
        # The flow's own (thread) futures cannot travel to a worker process: their final states can, and
        # give the task run the same wait_for edge. This runner's futures it resolves itself.
        from prefect.futures import PrefectConcurrentFuture

        waits = [future.state if isinstance(future, PrefectConcurrentFuture) else future for future in upstream]
        options = contextlib.nullcontext()
        if self.settings.kind == "ray":
            from prefect_ray.context import remote_options

            options = remote_options(num_cpus=1, num_gpus=self.gpus)
        with options:
            return self.runner.submit(task, parameters, wait_for=waits)

    def submit_each(self, task, parameters: dict, upstream: list) -> list:
        """One run of `task` per worker (they share its batches through leases); returns their futures."""
        return [self.submit(task, parameters, upstream) for _ in range(self.count)]

    def settled(self, futures: list) -> list:
        """What a task of the flow's own runner can wait for once this runner has closed: the futures'
        final states (a Ray future asked after Ray shut down reports a crash), or the flow's own futures."""
        return futures if self.in_process else [future.state for future in futures]

    @staticmethod
    def gather(futures: list) -> list:
        """The futures' results in order; on the first failure the others not yet started are cancelled
        (a store that stopped answering fails them all, each after its own retries) and it is raised."""
        try:
            return [future.result() for future in futures]
        except BaseException:
            for future in futures:
                with contextlib.suppress(Exception):
                    future.wrapped_future.cancel()
            raise


def _cluster_workers(settings: RunnerSpec, runner, gpus: int) -> int:
    """The size of an existing cluster: Dask workers, or Ray GPUs (CPUs without GPUs) over GPUs per worker."""
    if settings.kind == "dask":
        return max(1, len(runner.client.scheduler_info()["workers"]))
    import ray

    resources = ray.cluster_resources()
    return max(1, int(resources.get("GPU", 0) // gpus) if gpus else int(resources.get("CPU", 1)))
