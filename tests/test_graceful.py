"""A graceful restart: SIGTERM under load lets in-flight requests finish and refuses new connections cleanly."""

import http.client
import json
import signal
import socket
import threading
import time
from collections import Counter

import pytest

from .conftest import api_server, png_bytes

pytestmark = pytest.mark.slow  # POSIX signals and SO_REUSEPORT: Linux


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


def test_sigterm_under_load_finishes_in_flight_requests_and_refuses_new_ones(serving_artifacts):
    body = png_bytes(color=128)
    with api_server(serving_artifacts) as (server, url):
        port = int(url.rsplit(":", 1)[1])
        # Requests in flight at the signal: headers and part of the body sent, the rest held back.
        in_flight = []
        for _ in range(3):
            connection = socket.create_connection(("127.0.0.1", port))
            head = f"POST /predict HTTP/1.1\r\nHost: test\r\nContent-Type: image/png\r\nContent-Length: {len(body)}\r\n"
            connection.sendall(head.encode() + b"\r\n" + body[:20])
            in_flight.append(connection)
        outcomes, stop = Counter(), threading.Event()

        def load():
            while not stop.is_set():
                outcomes[post_once(port, body)] += 1

        clients = [threading.Thread(target=load) for _ in range(4)]
        for client in clients:
            client.start()
        time.sleep(1.0)
        server.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        stop.set()
        for client in clients:
            client.join(timeout=30)

        assert server.poll() is None, "the server quit with requests in flight"
        assert post_once(port, body) == "refused"
        for connection in in_flight:
            connection.sendall(body[20:])
            with connection, connection.makefile("rb") as answer:
                assert answer.readline().startswith(b"HTTP/1.1 200"), "an in-flight request did not complete"
        # uvicorn re-raises the signal once it has shut down, so the exit status says "terminated by SIGTERM"
        assert server.wait(timeout=30) == -signal.SIGTERM
    assert outcomes[200] > 0 and outcomes["refused"] > 0
    # No error, and connections queued but not yet accepted at the signal get a 503. At most one reset: the
    # one connection the kernel may still queue between the server emptying its backlog-0 queue and closing
    # it (Linux resets it on close; docs/serving.md). Stock uvicorn resets every queued one (4 in one run).
    assert set(outcomes) <= {200, 503, "refused", "reset"} and outcomes["reset"] <= 1, outcomes
    print(dict(outcomes))


def test_both_worker_processes_answer_new_connections(serving_artifacts):
    """With --workers 2 each process listens on sockets of its own (SO_REUSEPORT): new connections reach both."""
    with api_server(serving_artifacts, "--workers", "2") as (_, url):
        answered = Counter()
        deadline = time.monotonic() + 30  # the second worker may still be starting
        while time.monotonic() < deadline and (len(answered) < 2 or min(answered.values()) < 5):
            connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=10)
            connection.request("GET", "/healthz")
            answered[json.loads(connection.getresponse().read())["process"]] += 1
            connection.close()
    assert len(answered) == 2 and min(answered.values()) >= 5, answered
