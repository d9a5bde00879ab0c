"""A graceful restart: at SIGTERM `/readyz` turns 503 while requests are still served for the drain time, then
uvicorn's own graceful shutdown lets the requests in flight finish and refuses new connections."""

import http.client
import json
import signal
import socket
import time
import urllib.error
import urllib.request
from collections import Counter

import pytest

from .helpers import api_server, png_bytes, wait_until

pytestmark = pytest.mark.slow  # POSIX signals


def post_once(port: int, body: bytes):
    """The status of one POST /predict on a new connection, or how the connection failed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", "/predict", body=body, headers={"content-type": "image/png"})
        return connection.getresponse().status
    except ConnectionRefusedError:
        return "refused"
    except (ConnectionResetError, BrokenPipeError, http.client.RemoteDisconnected):
        return "reset"
    finally:
        connection.close()


def status(url: str, path: str):
    """The status of a GET on a new connection, or "refused"."""
    try:
        return urllib.request.urlopen(url + path, timeout=10).status
    except urllib.error.HTTPError as error:
        return error.code
    except urllib.error.URLError:
        return "refused"


def test_sigterm_turns_readiness_503_drains_then_finishes_in_flight_requests(serving_artifacts):
    body = png_bytes(color=128)
    with api_server(serving_artifacts, "--drain-seconds", "2") as (server, url):
        port = int(url.rsplit(":", 1)[1])
        assert status(url, "/readyz") == 200
        # Requests in flight at the signal: headers and part of the body sent, the rest held back.
        in_flight = []
        for _ in range(3):
            connection = socket.create_connection(("127.0.0.1", port))
            head = f"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: image/png\r\nContent-Length: {len(body)}\r\n"
            connection.sendall(head.encode() + b"\r\n" + body[:20])
            in_flight.append(connection)
        server.send_signal(signal.SIGTERM)
        # draining: not ready, but new requests are still answered
        wait_until(lambda: status(url, "/readyz") == 503, 2, "/readyz did not turn 503 within the drain time")
        assert post_once(port, body) == 200
        # then uvicorn's graceful shutdown: no new connections, the requests in flight finish
        wait_until(lambda: post_once(port, body) == "refused", 10, "new connections were still served 10 s on")
        assert server.poll() is None, "the server quit with requests in flight"
        for connection in in_flight:
            connection.sendall(body[20:])
            with connection, connection.makefile("rb") as answer:
                assert answer.readline().startswith(b"HTTP/1.1 200"), "an in-flight request did not complete"
        # uvicorn re-raises the signal once it has shut down, so the exit status says "terminated by SIGTERM"
        assert server.wait(timeout=30) == -signal.SIGTERM


def test_without_a_drain_time_sigterm_stops_accepting_at_once(serving_artifacts):
    with api_server(serving_artifacts) as (server, url):
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=30) == -signal.SIGTERM
        assert status(url, "/readyz") == "refused"


def test_both_worker_processes_answer_new_connections(serving_artifacts):
    """With --workers 2 (uvicorn's supervisor, one shared listening socket) new connections reach both."""
    with api_server(serving_artifacts, "--workers", "2") as (_, url):
        answered = Counter()
        deadline = time.monotonic() + 30  # the second worker may still be starting
        while time.monotonic() < deadline and (len(answered) < 2 or min(answered.values()) < 5):
            connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
            connection.request("GET", "/healthz")
            answered[json.loads(connection.getresponse().read())["process"]] += 1
            connection.close()
    assert len(answered) == 2 and min(answered.values()) >= 5, answered
