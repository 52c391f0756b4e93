"""The runner a spec or the CLI asks for: validated as one line, turned into the right Prefect task runner."""

import pytest

from artifacts.errors import BadInput
from flows import runners
from flows.runners import runner_settings, shipped, task_runner, worker_count
from tasks.spec import RunnerSpec, spec_from_dict

MODEL = {"name": "a", "path": "some/model"}


def test_the_spec_runner_is_validated_as_one_line():
    spec = spec_from_dict({"name": "s", "models": [MODEL], "runner": {"kind": "dask", "workers": 2}})
    assert spec.runner == RunnerSpec(kind="dask", workers=2)
    with pytest.raises(BadInput, match=r"runner: kind thread runs one worker here .*; fix the value"):
        spec_from_dict({"name": "s", "models": [MODEL], "runner": {"workers": 2}})
    with pytest.raises(BadInput, match=r"a Dask CUDA worker holds one GPU; use kind: ray"):
        spec_from_dict({"name": "s", "models": [MODEL], "runner": {"kind": "dask", "gpus_per_worker": 2}})


def test_cli_overrides_lay_over_the_spec():
    spec_runner = RunnerSpec(kind="dask", workers=4, concurrency="gpu")
    assert runner_settings(spec_runner, {"kind": None, "workers": None, "address": None}) is spec_runner
    assert runner_settings(spec_runner, {"workers": 2}) == RunnerSpec(kind="dask", workers=2, concurrency="gpu")
    with pytest.raises(BadInput, match=r"^--runner/--workers/--address: kind thread runs one worker here"):
        runner_settings(spec_runner, {"kind": "thread"})


def test_workers_default_to_one_per_gpu(monkeypatch):
    monkeypatch.setattr(runners, "gpu_count", lambda: 4)
    assert worker_count(RunnerSpec(kind="dask")) == 4 and worker_count(RunnerSpec(kind="ray", gpus_per_worker=2)) == 2
    assert worker_count(RunnerSpec(kind="dask", gpus_per_worker=0)) == 1 and worker_count(RunnerSpec()) == 1
    assert worker_count(RunnerSpec(kind="dask", address="tcp://scheduler:8786")) == 0  # asked of the cluster
    monkeypatch.setattr(runners, "gpu_count", lambda: 0)
    assert worker_count(RunnerSpec(kind="dask")) == 1 and worker_count(RunnerSpec(kind="dask", workers=3)) == 3


def test_dask_clusters_one_worker_per_gpu_or_cpu_workers(monkeypatch):
    pytest.importorskip("prefect_dask", reason="prefect-dask is not installed (pip install -e '.[dask]')")
    monkeypatch.setattr(runners, "gpu_count", lambda: 0)
    cpu = task_runner(RunnerSpec(kind="dask", workers=2), 2)
    assert cpu.cluster_class == "distributed.LocalCluster"
    assert cpu.cluster_kwargs["n_workers"] == 2 and cpu.cluster_kwargs["threads_per_worker"] == 1
    assert task_runner(RunnerSpec(kind="dask", address="tcp://scheduler:8786"), 1).address == "tcp://scheduler:8786"
    from prefect_dask import DaskTaskRunner

    class LocalCUDACluster:  # dask-cuda's, which needs a GPU to import usefully
        pass

    monkeypatch.setattr(runners, "gpu_count", lambda: 2)
    monkeypatch.setattr(runners, "_need", lambda module, name, extra: LocalCUDACluster if module == "dask_cuda" else DaskTaskRunner)
    gpu = task_runner(RunnerSpec(kind="dask"), 2)
    assert gpu.cluster_class is LocalCUDACluster and gpu.cluster_kwargs["n_workers"] == 2


def test_a_missing_runner_package_says_which_extra(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_ray(name, *args, **kwargs):
        if name.startswith("prefect_ray"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_ray)
    with pytest.raises(BadInput, match=r"runner: prefect_ray is not installed; pip install 'diffeval\[ray\]'"):
        task_runner(RunnerSpec(kind="ray", workers=1), 1)


def test_shipped_arguments_survive_pickling():
    import pickle

    value = {"items": [1, 2, 3]}
    assert pickle.loads(pickle.dumps(shipped(value))).unwrap() == value


def test_the_cli_rejects_a_bad_runner_before_anything_is_written(tmp_path, tiny_models, capsys):
    from flows.app.cli import main
    from tests.flows.helpers import t2i_spec

    spec = t2i_spec(tmp_path, tiny_models)
    assert main(["run", str(spec), "--store", str(tmp_path / "store"), "--workers", "2"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("diffeval: error: --runner/--workers/--address: kind thread runs one worker") and "\n" not in err
    assert not (tmp_path / "store").exists()


def test_the_many_machines_deployment_matches_the_flow():
    import inspect
    from pathlib import Path

    import yaml

    from flows.evaluate import evaluate
    from tasks.spec import load_spec

    repo = Path(__file__).resolve().parents[2]
    deployment = next(d for d in yaml.safe_load((repo / "prefect.yaml").read_text())["deployments"] if d["name"] == "nightly-gpu")
    assert deployment["entrypoint"] == "flows/evaluate.py:evaluate" and deployment["work_pool"]["name"] == "diffeval-gpu"
    assert set(deployment["parameters"]) <= set(inspect.signature(evaluate.fn).parameters)
    spec = load_spec(repo / deployment["parameters"]["spec_path"])
    assert runner_settings(spec.runner, deployment["parameters"]["runner"]) == RunnerSpec(kind="dask", concurrency="gpu")
    assert deployment["parameters"]["store"].startswith("s3://")
