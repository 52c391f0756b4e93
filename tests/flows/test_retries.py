"""Retries with backoff on the hub step only, and only for network errors."""

import pytest
from prefect import flow

import flows.evaluate as evaluate
from artifacts.errors import BadInput
from tasks.stages import run as stages

pytestmark = pytest.mark.usefixtures("prefect_harness")


def test_only_the_hub_step_retries_with_backoff():
    task = evaluate.prepare_task
    assert task.retries == 3 and task.retry_delay_seconds == [10.0, 20.0, 40.0]
    assert task.retry_condition_fn is evaluate.retry_on_network_error
    assert [t.retries for t in (evaluate.generate_task, evaluate.extract_task, evaluate.score_task)] == [0, 0, 0]


def _prepare_failing_with(monkeypatch, errors: list) -> list:
    """Make the hub step raise `errors` in turn, then succeed; return the list of calls it got."""
    calls = []

    def prepare(spec_path, store):
        calls.append(spec_path)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "prepared"

    monkeypatch.setattr(evaluate, "prepare", prepare)
    monkeypatch.setattr(stages, "missing_batches", lambda store, prepared, size: [])
    monkeypatch.setattr(stages, "all_in_store", lambda store, prepared: None)
    return calls


@flow
def _hub_step(store: str):
    # no delay here: the backoff itself is the task's setting checked above
    return evaluate.prepare_task.with_options(retry_delay_seconds=0)(store, store)


def test_a_transient_network_error_is_retried(monkeypatch, tmp_path):
    calls = _prepare_failing_with(monkeypatch, [ConnectionResetError("reset by peer"), TimeoutError("read timed out")])
    assert _hub_step(str(tmp_path)) == ("prepared", [], None) and len(calls) == 3


def test_bad_input_is_not_retried(monkeypatch, tmp_path):
    calls = _prepare_failing_with(monkeypatch, [BadInput("models[a].path: no such folder")])
    state = _hub_step(str(tmp_path), return_state=True)
    assert state.is_failed() and len(calls) == 1
