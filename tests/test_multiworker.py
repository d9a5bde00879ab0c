"""Two workers on localhost train the project's model with MultiWorkerMirroredStrategy, as on real hosts."""

import json
import os
import socket
import subprocess
import sys

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # longer than the workers' own 600 s, which fail first


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


def test_two_workers_end_with_identical_weights_and_a_falling_loss(tmp_path, debian_dataset_dir):
    cluster = {"worker": [f"localhost:{port}" for port in free_ports(2)]}
    workers = []
    for index in range(2):
        config = json.dumps({"cluster": cluster, "task": {"type": "worker", "index": index}})
        env = dict(os.environ, TF_CONFIG=config, TF_CPP_MIN_LOG_LEVEL="3", TF_ENABLE_ONEDNN_OPTS="1")
        command = [sys.executable, "-m", "fmnist.multiworker", "--steps", "20", "--images", "2048"]
        command += ["--batch-per-worker", "32", "--output", str(tmp_path / f"worker{index}.json")]
        workers.append(subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT))
    outputs = [worker.communicate(timeout=600)[0].decode() for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], outputs
    results = [json.loads((tmp_path / f"worker{index}.json").read_text()) for index in range(2)]
    assert [result["workers"] for result in results] == [2, 2]
    assert results[0]["trainable_weights_sha256"] == results[1]["trainable_weights_sha256"]  # kept in step
    for result in results:  # the loss is summed over both workers' shards every step
        assert sum(result["loss"][-5:]) < sum(result["loss"][:5])
