"""Set-up time from a fresh clone, before and after the locked requirements, side by side in one run.

    python benchmarks/setup_time.py [--before e9f1042] [--after HEAD]

Each commit is cloned into a scratch folder and `make .venv/.installed` runs there with an empty HOME and no
pip cache (as `../shared/tools/fresh-clone` does), so every wheel is downloaded and installed again. `before`
defaults to the last commit with the `pip freeze` requirements.txt. Writes reports/setup_time.json.
"""

import argparse
import json
import os
import subprocess
import tempfile
import time
from pathlib import Path

from machine import processor_name

ROOT = Path(__file__).resolve().parent.parent


def time_setup(commit: str, scratch: Path) -> dict:
    """Clone `commit`, install its environment from nothing, and return the seconds and packages."""
    repo, home = scratch / commit / "repo", scratch / commit / "home"
    home.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    subprocess.run(["git", "checkout", "-q", commit], cwd=repo, check=True)
    env = {**os.environ, "HOME": str(home), "PIP_NO_CACHE_DIR": "1"}
    start = time.perf_counter()
    subprocess.run(["make", ".venv/.installed"], cwd=repo, env=env, check=True, capture_output=True)
    seconds = time.perf_counter() - start
    frozen = subprocess.run([repo / ".venv/bin/python", "-m", "pip", "freeze"], capture_output=True, text=True)
    hashes = (repo / "requirements.txt").read_text().count("--hash=")
    return {"commit": commit, "seconds": round(seconds, 1), "packages": len(frozen.stdout.split()), "hashes": hashes}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", default="e9f1042", help="commit with the previous requirements")
    parser.add_argument("--after", default="HEAD")
    args = parser.parse_args()
    after = subprocess.run(["git", "rev-parse", "--short", args.after], cwd=ROOT, capture_output=True, text=True)
    with tempfile.TemporaryDirectory() as scratch:
        commits = {"before": args.before, "after": after.stdout.strip()}
        runs = {name: time_setup(commit, Path(scratch)) for name, commit in commits.items()}
    report = {
        **runs,
        "ratio": round(runs["before"]["seconds"] / runs["after"]["seconds"], 2),
        "command": "make .venv/.installed (fresh clone, empty HOME, no pip cache)",
        "machine": {"processor": processor_name(), "cpu_count": os.cpu_count()},
    }
    print(json.dumps(report, indent=2))
    (ROOT / "reports/setup_time.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
