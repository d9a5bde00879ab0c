"""Serving speed: start the real API, drive it from other processes, and time in-process batch inference.

    python benchmarks/serving.py [--requests 2000] [--connections 200] [--seconds 20] [--workers 2]

Needs models/ from `make run`. The single client is a Python process sending POST /predict back to back
over one keep-alive connection; the concurrent load is wrk (Debian package `wrk`, installed if missing).
Both send the same multipart upload of a 28×28 PNG test image. Results go to stdout and to
reports/serving_benchmark.json.
"""

import argparse
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
BOUNDARY = "fmnistbenchmarkboundary"

SINGLE_CLIENT = r"""
import http.client, json, sys, time
port, count, body, boundary = int(sys.argv[1]), int(sys.argv[2]), open(sys.argv[3], "rb").read(), sys.argv[4]
headers = {"content-type": f"multipart/form-data; boundary={boundary}"}
connection = http.client.HTTPConnection("127.0.0.1", port)
latencies = []
for number in range(count + 50):
    start = time.perf_counter()
    connection.request("POST", "/predict", body=body, headers=headers)
    response = connection.getresponse()
    response.read()
    if response.status != 200:
        raise SystemExit(f"HTTP {response.status}")
    if number >= 50:  # the first 50 warm the server up
        latencies.append(time.perf_counter() - start)
print(json.dumps(latencies))
"""

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "multipart/form-data; boundary={boundary}"
local file = io.open("{body}", "rb")
wrk.body = file:read("*all")
file:close()
"""


def multipart_png(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="item.png"\r\n'
        f"Content-Type: image/png\r\n\r\n".encode()
        + buffer.getvalue()
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port: int, workers: int, models: Path) -> subprocess.Popen:
    command = [sys.executable, "-m", "uvicorn", "fmnist.serve:app", "--host", "127.0.0.1", "--port", str(port)]
    command += ["--workers", str(workers), "--log-level", "warning", "--no-access-log", "--backlog", "4096"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env.update(FMNIST_MODEL=str(models / "fashion_cnn.tflite"), FMNIST_INDEX=str(models / "catalogue_index.npz"))
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise SystemExit("the server did not start; run `make run` first so that models/ exists")


def percentile(values, q) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def wrk_load(port, body_path, connections, seconds) -> dict:
    if not shutil.which("wrk"):
        subprocess.run(["apt-get", "install", "-y", "-qq", "wrk"], check=True)
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT.replace("{boundary}", BOUNDARY).replace("{body}", str(body_path)))
    command = ["wrk", "-t", "1", "-c", str(connections), "-d", f"{seconds}s", "--latency", "--timeout", "5s"]
    output = subprocess.run(
        [*command, "-s", script.name, f"http://127.0.0.1:{port}/predict"], check=True, capture_output=True, text=True
    ).stdout
    print(output)

    def milliseconds(label):
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", output, re.M).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]

    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + (sum(map(int, socket_errors.groups())) if socket_errors else 0)
    return {
        "connections": connections,
        "seconds": seconds,
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "requests_per_s": round(float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)), 1),
        "p50_ms": round(milliseconds("50%"), 2),
        "p99_ms": round(milliseconds("99%"), 2),
        "errors": errors,
    }


def batch_throughput(images, models: Path, batch_size=1000, repeats=5) -> dict:
    """In-process images/s of the TFLite model (float32 and int8 weights), best of `repeats`."""
    from fmnist.export import TFLiteClassifier

    results = {}
    for name in ("fashion_cnn.tflite", "fashion_cnn_int8.tflite"):
        classifier = TFLiteClassifier(models / name, num_threads=os.cpu_count())
        batch = images[:batch_size]
        classifier(batch)
        best = 0.0
        for _ in range(repeats):
            start = time.perf_counter()
            classifier(batch)
            best = max(best, batch_size / (time.perf_counter() - start))
        results[name] = round(best)
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (one per core)")
    parser.add_argument("--models", default=str(ROOT / "models"), help="folder with the exported models")
    parser.add_argument("--output", default=str(ROOT / "reports" / "serving_benchmark.json"))
    arguments = parser.parse_args()

    import keras

    from fmnist import data

    data.ensure_dataset()  # fills an empty Keras cache from local copies; load_data alone would download
    _, (test_images, _) = keras.datasets.fashion_mnist.load_data()
    with tempfile.NamedTemporaryFile(suffix=".body", delete=False) as handle:
        handle.write(multipart_png(test_images[0]))
    port = free_port()
    models = Path(arguments.models)
    server = start_server(port, arguments.workers, models)
    try:
        latencies = json.loads(
            subprocess.run(
                [sys.executable, "-c", SINGLE_CLIENT, str(port), str(arguments.requests), handle.name, BOUNDARY],
                check=True,
                capture_output=True,
                text=True,
            ).stdout  # fmt: skip
        )
        single = {
            "p50_ms": round(percentile(latencies, 50), 3),
            "p95_ms": round(percentile(latencies, 95), 3),
            "p99_ms": round(percentile(latencies, 99), 3),
            "requests": len(latencies),
        }
        print(f"single client: {single}")
        concurrent = wrk_load(port, handle.name, arguments.connections, arguments.seconds)
        print(f"concurrent:    {concurrent}")
        assert server.poll() is None, "the server died under load"
    finally:
        server.terminate()
        server.wait(timeout=30)
    batch = batch_throughput(data.scale_images(test_images), models)
    print(f"in-process batch inference, images/s: {batch}")
    result = {
        "single_client": single,
        "concurrent": concurrent,
        "batch_images_per_s": batch["fashion_cnn.tflite"],  # the float32 model the API serves
        "batch_images_per_s_by_model": batch,
        "server": {
            "workers": arguments.workers,
            "endpoint": "POST /predict, multipart PNG upload",
            "cpus": os.cpu_count(),
        },
    }
    Path(arguments.output).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
