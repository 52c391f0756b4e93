"""Deployments: serve the evaluation flow on a cron schedule with a spec file as its parameter."""

from __future__ import annotations

from pathlib import Path

import yaml

PREFECT_YAML = Path(__file__).resolve().parent.parent / "prefect.yaml"


def nightly_settings(prefect_yaml: Path = PREFECT_YAML) -> dict:
    """The `nightly` deployment as prefect.yaml declares it (name, entrypoint, cron, parameters)."""
    config = yaml.safe_load(prefect_yaml.read_text())
    deployment = next(d for d in config["deployments"] if d["name"] == "nightly")
    cron = next(s["cron"] for s in deployment["schedules"] if "cron" in s)
    return {"name": deployment["name"], "entrypoint": deployment["entrypoint"], "cron": cron,
            "parameters": deployment.get("parameters", {})}


def build_deployment(spec_path: str, cron: str, name: str = "nightly", store: str | None = None):
    """A RunnerDeployment of the evaluation flow on `cron`, the spec path (absolute) as its parameter."""
    from flows.evaluate import evaluate

    parameters = {"spec_path": str(Path(spec_path).resolve()), "store": store}
    return evaluate.to_deployment(name=name, cron=cron, parameters=parameters,
                                  description="diffeval scheduled evaluation with regression verdicts")


def serve(spec_path: str, cron: str, name: str = "nightly", store: str | None = None) -> None:
    """Serve the deployment from this process until interrupted (runs happen on the schedule)."""
    from prefect import serve as prefect_serve

    prefect_serve(build_deployment(spec_path, cron, name, store))
