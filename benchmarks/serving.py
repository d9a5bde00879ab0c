"""Serving speed and robustness: start the real API, drive it from other processes, write the figures.

    python -m benchmarks.serving [--requests 2000] [--connections 200] [--seconds 20] [--workers 2] [--baseline REV]

Needs models/ from `make run`. In one run:
- single client: a Python process sending POST /predict (multipart 28×28 PNG) back to back over one
  keep-alive connection, then POST /explain (the raw PNG) the same way;
- steady state: h2load (Debian package `nghttp2-client`, installed if missing) over HTTP/1.1 with
  `--connections` kept alive for `--seconds`, measured after `--warm-up` seconds once they are all open (its
  `--warm-up-time`); the percentiles come from its per-request log;
- burst: wrk (Debian package `wrk`, installed if missing) opening `--connections` at once and measuring from
  the first (socket timeouts, wrk's limit 5 s, are counted apart from errors);
- both, side by side on the same machine, for this server and for the server at commit `--baseline` (from a
  git worktree, its own sources), in alternating rounds, and with the load generator on the same cores;
- stall: on a one-worker server, a light client of 28×28 uploads for 10 s alone, then for 10 s beside two
  clients that upload a 6000×6000 PNG (legal, 48 KB) back to back;
- fuzz: tests/test_fuzz.py with `--fuzz-examples` examples per test, its cases and failures counted;
- in-process batch inference of the TFLite models.
Results go to stdout and to reports/serving_benchmark.json.
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
from collections import Counter
from pathlib import Path

import numpy as np

from benchmarks.machine import processor_name

ROOT = Path(__file__).resolve().parent.parent
BOUNDARY = "fmnistbenchmarkboundary"

CLIENT = r"""
import http.client, json, socket, sys, time
port, path, body, content_type = int(sys.argv[1]), sys.argv[2], open(sys.argv[3], "rb").read(), sys.argv[4]
count, seconds = int(sys.argv[5]), float(sys.argv[6])  # stop after `count` requests, or after `seconds`
headers = {"content-type": content_type}
connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
latencies, statuses, timeouts, number, end = [], {}, 0, 0, time.perf_counter() + seconds + 3600 * (seconds == 0)
while (number < count + 50 if count else True) and time.perf_counter() < end:
    start = time.perf_counter()
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read()
    except socket.timeout:
        timeouts += 1
        connection.close()
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        continue
    if number >= 50 or seconds:  # in a counted run, the first 50 warm the server up
        latencies.append(time.perf_counter() - start)
        statuses[response.status] = statuses.get(response.status, 0) + 1
    number += 1
print(json.dumps({"latencies": latencies, "statuses": statuses, "timeouts": timeouts}))
"""

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "multipart/form-data; boundary={boundary}"
local file = io.open("{body}", "rb")
wrk.body = file:read("*all")
file:close()
"""


def png(image: np.ndarray) -> bytes:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return buffer.getvalue()


def multipart_png(image: np.ndarray) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="item.png"\r\n'
        f"Content-Type: image/png\r\n\r\n".encode()
        + png(image)
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_server(port: int, workers: int, models: Path, source: Path = ROOT / "src") -> subprocess.Popen:
    """Start the API from `source` and return once every worker process has answered /healthz."""
    command = [sys.executable, "-m", "fmnist.serve", "--port", str(port), "--workers", str(workers)]
    command += ["--log-level", "warning", "--no-access-log", "--backlog", "4096"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONPATH=str(source))
    env.update(FMNIST_MODEL=str(models / "fashion_cnn.tflite"), FMNIST_CATALOGUE=str(models / "catalogue.npz"))
    env.update(FMNIST_REVIEW_THRESHOLDS=str(models / "review_thresholds.json"))
    server = subprocess.Popen(command, cwd=ROOT, env=env)
    # Each new connection may reach another worker. On one shared socket an idle server may hand them all to
    # the same worker, so after 10 s of answers the others are taken to be up as well.
    answered, deadline = set(), time.monotonic() + 60
    while len(answered) < workers and time.monotonic() < deadline:
        try:
            answered.add(json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1))["process"])
            deadline = min(deadline, time.monotonic() + 10)
        except OSError:
            time.sleep(0.2)
    if answered:
        return server
    server.kill()
    raise SystemExit("the server did not start; run `make run` first so that models/ exists")


def percentile(values, q) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def install(program: str, package: str) -> None:
    if not shutil.which(program):
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True)


def steady_state(port, body_path, connections, seconds, warm_up) -> dict:
    """h2load with `connections` kept alive: the figures of the `seconds` after `warm_up` seconds."""
    install("h2load", "nghttp2-client")
    log = body_path.parent / "h2load.log"
    command = ["h2load", "--h1", "-t", "1", "-c", str(connections), "-D", str(seconds), f"--warm-up-time={warm_up}"]
    command += ["-d", str(body_path), "-H", f"content-type: multipart/form-data; boundary={BOUNDARY}"]
    output = subprocess.run(
        [*command, f"--log-file={log}", f"http://127.0.0.1:{port}/predict"], check=True, capture_output=True, text=True
    ).stdout
    rows = [line.split("\t") for line in log.read_text().splitlines()]
    log.unlink()
    start = min(int(row[0]) for row in rows) + warm_up * 1e6  # the log may hold the warm-up's requests too
    measured = [(int(status), int(micros) / 1e6) for begun, status, micros in rows if int(begun) >= start]
    latencies = [seconds_taken for _, seconds_taken in measured]
    return {
        "connections": connections,
        "seconds": seconds,
        "warm_up_seconds": warm_up,
        "requests": len(measured),
        "requests_per_s": round(len(measured) / seconds, 1),
        "p50_ms": round(percentile(latencies, 50), 2),
        "p99_ms": round(percentile(latencies, 99), 2),
        "errors": sum(status != 200 for status, _ in measured)
        + int(re.search(r"(\d+) failed, (\d+) errored", output).group(2)),
    }


def wrk_load(port, body_path, connections, seconds) -> dict:
    """wrk opening `connections` at once: the burst of new connections, measured from the first."""
    install("wrk", "wrk")
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
    connect, read, write, timeouts = map(int, socket_errors.groups()) if socket_errors else (0, 0, 0, 0)
    errors = (int(non_2xx.group(1)) if non_2xx else 0) + connect + read + write
    return {
        "connections": connections,
        "seconds": seconds,
        "requests": int(re.search(r"(\d+) requests in", output).group(1)),
        "requests_per_s": round(float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)), 1),
        "p50_ms": round(milliseconds("50%"), 2),
        "p99_ms": round(milliseconds("99%"), 2),
        "errors": errors,
        "timeouts": timeouts,
    }


def batch_throughput(images, models: Path, batch_size=1000, repeats=5) -> dict:
    """In-process images/s of the TFLite model (float32 and int8 weights), best of `repeats`."""
    from fmnist.core.runtime import TFLiteClassifier

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


def start_client(port, path, body: Path, content_type, count=0, seconds=0.0) -> subprocess.Popen:
    """A client process sending `body` to `path` back to back, for `count` requests or for `seconds`."""
    command = [sys.executable, "-c", CLIENT, str(port), path, str(body), content_type, str(count), str(seconds)]
    return subprocess.Popen(command, stdout=subprocess.PIPE, text=True)


def client_result(client: subprocess.Popen) -> dict:
    output, _ = client.communicate()
    if client.returncode:
        raise SystemExit(f"a benchmark client failed with exit code {client.returncode}")
    return json.loads(output)


def latency_figures(result: dict) -> dict:
    latencies = result["latencies"]
    return {
        "p50_ms": round(percentile(latencies, 50), 3),
        "p95_ms": round(percentile(latencies, 95), 3),
        "p99_ms": round(percentile(latencies, 99), 3),
        "requests": len(latencies),
        "statuses": result["statuses"],
    }


def stall(models: Path, light: Path, scratch: Path, seconds=10.0, heavy_clients=2) -> dict:
    """One light client of 28×28 uploads, alone and then beside `heavy_clients` clients of a large legal PNG.

    On a one-worker server, as in the issue that found the stall: there, every heavy decode blocked the loop.
    """
    from PIL import Image

    heavy = scratch / "heavy.png"
    Image.new("L", (6000, 6000), 255).save(heavy, format="PNG")
    port = free_port()
    server = start_server(port, 1, models)
    try:
        quiet = client_result(start_client(port, "/predict", light, "image/png", seconds=seconds))
        heavies = [
            start_client(port, "/predict", heavy, "image/png", seconds=seconds + 2) for _ in range(heavy_clients)
        ]
        time.sleep(1)  # the heavy clients are busy before the light one starts
        loaded = client_result(start_client(port, "/predict", light, "image/png", seconds=seconds))
        heavy_results = [client_result(client) for client in heavies]
        assert server.poll() is None, "the server died under the heavy uploads"
    finally:
        server.terminate()
        server.wait(timeout=30)
    heavy_statuses = sum((Counter(result["statuses"]) for result in heavy_results), Counter())
    return {
        "light_p50_ms_quiet": round(percentile(quiet["latencies"], 50), 3),
        "light_p99_ms_quiet": round(percentile(quiet["latencies"], 99), 3),
        "light_p50_ms_heavy": round(percentile(loaded["latencies"], 50), 3),
        "light_p99_ms_heavy": round(percentile(loaded["latencies"], 99), 3),
        "light_requests_per_s_quiet": round(len(quiet["latencies"]) / seconds, 1),
        "light_requests_per_s_heavy": round(len(loaded["latencies"]) / seconds, 1),
        "light_throughput_ratio": round(len(loaded["latencies"]) / len(quiet["latencies"]), 3),
        "heavy_clients": heavy_clients,
        "heavy_image": f"6000×6000 white PNG, {heavy.stat().st_size:,} bytes",
        "heavy_p50_ms": round(percentile([x for r in heavy_results for x in r["latencies"]], 50), 1),
        "heavy_statuses": dict(heavy_statuses),
        "heavy_timeouts": sum(result["timeouts"] for result in heavy_results),
        "seconds": seconds,
        "workers": 1,
    }


def fuzz(examples: int, scratch: Path) -> dict:
    """Run the fuzz tests (tests/test_fuzz.py) with `examples` examples per test; count cases and failures."""
    report = scratch / "fuzz.json"
    env = dict(os.environ, FMNIST_FUZZ_EXAMPLES=str(examples), FMNIST_FUZZ_REPORT=str(report))
    command = [sys.executable, "-m", "pytest", "-q", "-m", "slow", "-p", "no:cacheprovider", "tests/test_fuzz.py"]
    passed = subprocess.run(command, cwd=ROOT, env=env).returncode == 0
    result = json.loads(report.read_text())
    return {"cases": result["cases"], "failures": result["failures"], "examples_per_test": examples, "passed": passed}


def arguments_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--explain-requests", type=int, default=200)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--warm-up", type=int, default=5, help="seconds before the steady state is measured")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds of this server and the baseline")
    parser.add_argument("--workers", type=int, default=2, help="uvicorn worker processes (one per core)")
    parser.add_argument("--fuzz-examples", type=int, default=200, help="examples per fuzz test")
    parser.add_argument("--models", default=str(ROOT / "models"), help="folder with the exported models")
    # the API as one module, with the same endpoints: the package must keep its throughput and p99
    parser.add_argument("--baseline", default="4707d16", help="the commit whose server to compare with")
    parser.add_argument("--output", default=str(ROOT / "reports" / "serving_benchmark.json"))
    return parser


def mean_figures(runs: list[dict]) -> dict:
    """The mean throughput and percentiles over rounds, the errors and timeouts summed, and every round."""
    figures = {key: runs[0][key] for key in ("connections", "seconds")}
    for key in ("requests_per_s", "p50_ms", "p99_ms"):
        figures[key] = float(np.mean([run[key] for run in runs]))
    for key in ("errors", "timeouts"):
        figures[key] = sum(run.get(key, 0) for run in runs)
    return {**figures, "rounds": runs}


def side_by_side(arguments, models: Path, body: Path) -> dict:
    """Steady state and burst for this server and the baseline's, in alternating rounds."""
    baseline = ROOT / "build" / "serving-baseline"
    if not baseline.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(baseline), arguments.baseline], cwd=ROOT, check=True)
    runs = {name: {"steady_state": [], "burst": []} for name in ("this", "baseline")}
    for _ in range(arguments.rounds):
        for name, source in (("this", ROOT / "src"), ("baseline", baseline / "src")):
            port = free_port()
            server = start_server(port, arguments.workers, models, source)
            try:
                steady = steady_state(port, body, arguments.connections, arguments.seconds, arguments.warm_up)
                burst = wrk_load(port, body, arguments.connections, arguments.seconds)
                assert server.poll() is None, f"the {name} server died under load"
            finally:
                server.terminate()
                server.wait(timeout=30)
            print(f"{name}: steady state {steady}\n{name}: burst {burst}", flush=True)
            runs[name]["steady_state"].append(steady)
            runs[name]["burst"].append(burst)
    figures = {name: {kind: mean_figures(values) for kind, values in kinds.items()} for name, kinds in runs.items()}
    this, before = figures["this"]["steady_state"], figures["baseline"]["steady_state"]
    return {
        **figures["this"],
        "baseline": {"commit": arguments.baseline, **figures["baseline"]},
        "steady_state_throughput_ratio": round(this["requests_per_s"] / before["requests_per_s"], 3),
    }


def main():
    arguments = arguments_parser().parse_args()

    from fmnist import data

    _, (test_images, _) = data.load_data()
    scratch = Path(tempfile.mkdtemp())
    multipart, light = scratch / "multipart.body", scratch / "light.png"
    multipart.write_bytes(multipart_png(test_images[0]))
    light.write_bytes(png(test_images[0]))
    port, models = free_port(), Path(arguments.models)
    server = start_server(port, arguments.workers, models)
    try:
        content_type = f"multipart/form-data; boundary={BOUNDARY}"
        single = start_client(port, "/predict", multipart, content_type, arguments.requests)
        single = latency_figures(client_result(single))
        print(f"single client: {single}")
        explained = start_client(port, "/explain", light, "image/png", arguments.explain_requests)
        explained = latency_figures(client_result(explained))
        print(f"explain, single client: {explained}")
    finally:
        server.terminate()
        server.wait(timeout=30)
    concurrent = side_by_side(arguments, models, multipart)
    stalls = stall(models, light, scratch)
    print(f"stall: {stalls}")
    fuzzed = fuzz(arguments.fuzz_examples, scratch)
    print(f"fuzz: {fuzzed}")
    batch = batch_throughput(data.scale_images(test_images), models)
    print(f"in-process batch inference, images/s: {batch}")
    result = {
        "single_client": single,
        "explain": explained,
        "concurrent": concurrent,
        "stall": stalls,
        "fuzz": fuzzed,
        "batch_images_per_s": batch["fashion_cnn.tflite"],  # the float32 model the API serves
        "batch_images_per_s_by_model": batch,
        "server": {
            "workers": arguments.workers,
            "endpoint": "POST /predict, multipart PNG upload",
            "cpus": os.cpu_count(),
            "processor": processor_name(),
        },
    }
    Path(arguments.output).write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
