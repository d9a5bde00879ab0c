"""The committed reference run's reports, which the README and docs quote, even after `make run` rewrote them.

`make run` writes the learner's own run into reports/. The docs quote the reference run committed with the
project, so the doc tests read the reports as git holds them (staged or committed), and fall back to the files
on disk outside a git checkout.
"""

import functools
import json
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "Fashion_MNIST_model_training.ipynb"
HEADLINE = ("test_accuracy", "test_loss", "parameters", "training_precision")


@functools.cache
def report_text(name: str) -> str:
    """The text of reports/`name` as git's index holds it, else as the file on disk holds it."""
    try:
        shown = subprocess.run(
            ["git", "show", f":reports/{name}"], cwd=ROOT, capture_output=True, text=True, check=True, timeout=30
        )
        return shown.stdout
    except (OSError, subprocess.CalledProcessError, subprocess.TimeoutExpired):
        return (ROOT / "reports" / name).read_text()


def report(name: str) -> dict:
    """reports/`name` of the committed reference run."""
    return json.loads(report_text(name))


def report_lines(name: str) -> list[dict]:
    """reports/`name`, a JSON-lines report (one run a line), of the committed reference run."""
    return [json.loads(line) for line in report_text(name).splitlines() if line]


def changed_figures() -> list[str]:
    """The headline figures of reports/metrics.json on disk that differ from the committed run's."""
    on_disk = json.loads((ROOT / "reports" / "metrics.json").read_text())
    committed = report("metrics.json")
    changes = [
        f"  {name}: {on_disk.get(name)} (committed: {committed.get(name)})"
        for name in HEADLINE
        if on_disk.get(name) != committed.get(name)
    ]
    ours, theirs = on_disk.get("recipe", {}), committed.get("recipe", {})
    edited = [
        f"{name} {ours.get(name)} (committed: {theirs.get(name)})" for name in ours if ours[name] != theirs.get(name)
    ]
    ours, theirs = on_disk.get("architecture"), committed.get("architecture")
    edited += [] if ours == theirs else [f"the network: {len(ours or [])} layers (committed: {len(theirs or [])})"]
    return changes + (["  your recipe differs from the committed one: " + "; ".join(edited)] if edited else [])
