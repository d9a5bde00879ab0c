"""Set-up time from a fresh clone, before and after the locked requirements, side by side in one run.

    python -m benchmarks.setup_time [--before e9f1042] [--after HEAD]

Each commit is cloned into a scratch folder and `make .venv/.installed` runs there with an empty HOME and no
pip cache (as `../shared/tools/fresh-clone` does), so every wheel is downloaded and installed again: `before`
(by default the last commit with the `pip freeze` requirements.txt), then `after` twice, with the Makefile's
default installer (uv) and with `INSTALLER=pip`. Writes reports/setup_time.json.
"""

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from benchmarks.machine import processor_name

ROOT = Path(__file__).resolve().parent.parent


def time_setup(commit: str, scratch: Path, *make_options: str) -> dict:
    """Clone `commit`, install its environment from nothing, and return the seconds and packages."""
    run = Path(tempfile.mkdtemp(dir=scratch))
    repo, home = run / "repo", run / "home"
    home.mkdir()
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    subprocess.run(["git", "checkout", "-q", commit], cwd=repo, check=True)
    env = {**os.environ, "HOME": str(home), "PIP_NO_CACHE_DIR": "1"}
    start = time.perf_counter()
    subprocess.run(["make", ".venv/.installed", *make_options], cwd=repo, env=env, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    frozen = subprocess.run([repo / ".venv/bin/python", "-m", "pip", "freeze"], capture_output=True, text=True)
    hashes = (repo / "requirements.txt").read_text().count("--hash=")
    return {
        "commit": commit,
        "make_options": list(make_options),
        "seconds": round(seconds, 1),
        "packages": len(frozen.stdout.split()),
        "hashes": hashes,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="e9f1042", help="commit with the previous requirements")
    parser.add_argument("--after", default="HEAD")
    args = parser.parse_args()
    after = subprocess.run(["git", "rev-parse", "--short", args.after], cwd=ROOT, capture_output=True, text=True)
    with tempfile.TemporaryDirectory() as scratch:
        scratch, after = Path(scratch), after.stdout.strip()
        runs = {
            "before": time_setup(args.before, scratch),
            "after": time_setup(after, scratch),
            "after_pip": time_setup(after, scratch, "INSTALLER=pip"),
        }
    report = {
        **runs,
        "ratio": round(runs["before"]["seconds"] / runs["after"]["seconds"], 2),
        "ratio_pip": round(runs["before"]["seconds"] / runs["after_pip"]["seconds"], 2),
        "command": "make .venv/.installed (fresh clone, empty HOME, no pip cache)",
        "machine": {"processor": processor_name(), "cpu_count": os.cpu_count()},
    }
    print(json.dumps(report, indent=2))
    (ROOT / "reports/setup_time.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
