"""A local S3 server for the tests (moto's server mode on 127.0.0.1), and a TCP proxy to cut it off."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

CREDENTIALS = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


class MotoServer:
    """`python -m moto.server` on a free port, in its own process (its own GIL), stopped by `stop`."""

    def __init__(self):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **CREDENTIALS})
        if not wait_for_port(self.port, 120):
            self.stop()
            raise RuntimeError(f"moto server did not listen on port {self.port} within 120 s")

    def env(self, endpoint: str | None = None) -> dict[str, str]:
        """What a client process needs to use this server (or a proxy in front of it)."""
        return {**CREDENTIALS, "AWS_ENDPOINT_URL": endpoint or self.url}

    def make_bucket(self, name: str) -> str:
        import boto3

        boto3.client("s3", endpoint_url=self.url, **_boto_credentials()).create_bucket(Bucket=name)
        return name

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def _boto_credentials() -> dict:
    return {"aws_access_key_id": CREDENTIALS["AWS_ACCESS_KEY_ID"], "aws_secret_access_key": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            "region_name": CREDENTIALS["AWS_DEFAULT_REGION"]}


class TcpProxy:
    """Forwards 127.0.0.1:<port> to a target port; `cut()` drops every connection and stops listening
    (the store becomes unreachable), `restore()` listens again on the same port. With `cut_after`,
    the proxy cuts itself once that many bytes went towards the server (mid-request)."""

    def __init__(self, target_port: int, cut_after: int | None = None):
        self.target_port, self.port, self.cut_after = target_port, free_port(), cut_after
        self.url = f"http://127.0.0.1:{self.port}"
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self.forwarded = 0  # bytes sent towards the server
        self.restore()

    def restore(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        self.cut_after = None
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # close() alone does not wake a thread blocked in accept()
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            for sock in self._sockets:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                sock.close()
            self._sockets.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            for a, b, count in ((client, upstream, True), (upstream, client, False)):
                threading.Thread(target=self._pipe, args=(a, b, count), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, count: bool) -> None:
        _pipe(source, sink, self if count else None)


def _pipe(source: socket.socket, sink: socket.socket, counter: "TcpProxy | None" = None) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
            if counter is not None:
                counter.forwarded += len(data)
                if counter.cut_after is not None and counter.forwarded >= counter.cut_after:
                    counter.cut()
                    return
    except OSError:
        pass
    finally:
        for sock in (source, sink):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
