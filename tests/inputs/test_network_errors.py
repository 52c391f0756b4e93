"""Which failures count as the network's (and so are retried by the hub step): transient ones only."""

import socket
import urllib.error

import pytest

from artifacts.errors import BadInput
from tasks.inputs.network import is_network_error
from tasks.reporting.summary import RegressionFailed


class _Response:
    def __init__(self, status_code):
        self.status_code = status_code


class _LibraryHTTPError(OSError):
    """What requests / httpx / huggingface_hub raise for an answer: the status on `.response`."""

    def __init__(self, status):
        super().__init__(f"{status}")
        self.response = _Response(status)


class TransportError(Exception):  # httpx's base of ConnectError, ReadTimeout, ...
    pass


class ConnectError(TransportError):
    pass


def _wrapped(inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as exc:
            raise RuntimeError("could not load the model") from exc
    except RuntimeError as outer:
        return outer


@pytest.mark.parametrize("error", [ConnectionResetError(), TimeoutError(), socket.gaierror(-3, "Temporary failure in name resolution"),
                                   urllib.error.URLError("no route"), ConnectError("refused"), _LibraryHTTPError(503),
                                   _LibraryHTTPError(429), _wrapped(ConnectionRefusedError())])
def test_transient_network_failures_are_network_errors(error):
    assert is_network_error(error)


@pytest.mark.parametrize("error", [BadInput("models[a].path: no such folder"), _wrapped(BadInput("x")), FileNotFoundError("spec.yaml"),
                                   _LibraryHTTPError(404), urllib.error.HTTPError("u", 401, "no", {}, None), ValueError("bad"),
                                   RegressionFailed({"regressions": [], "previous_run": "r1"}), None])
def test_bad_input_answers_and_regressions_are_not(error):
    assert not is_network_error(error)


def test_bad_input_caused_by_the_network_is_still_bad_input():
    try:
        raise BadInput("someone/model is neither a folder nor a cached hub id") from ConnectionError()
    except BadInput as exc:
        assert not is_network_error(exc)
