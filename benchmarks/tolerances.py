"""The regression test's tolerances, measured: the notebook executed once per seed and precision, and each
compared figure's spread turned into a tolerance for the difference of two runs.

    python -m benchmarks.tolerances --seeds 43 44 45 46 --float32-seeds 42 43 44   # executes the runs
    python -m benchmarks.tolerances                                               # recomputes from the runs

Each executed run appends one line to reports/tolerance_runs.jsonl: its seed, its precision, the processor it
ran on, the commit, the recipe's fingerprint and its whole metrics.json (benchmarks/regression_figures.py picks
the figures that the regression test compares). Only runs of the recipe as it stands count: a run already
recorded (same recipe, seed, precision and processor) is not executed again, so an interrupted session resumes,
and runs of an earlier recipe stay in the file, unused. The committed run (reports/metrics.json) counts as one
more run.

From all runs, both precisions pooled (a systematic shift between them counts as spread), each figure's sample
standard deviation s gives the tolerance for the difference of two runs, z·√2·s, never less than `FLOOR`. z
keeps the expected false-alarm rate of the whole regression test at `FALSE_ALARM_RATE`: a Bonferroni split of
it over the compared figures, each difference taken as normal (two-sided). reports/regression_tolerances.json
holds the tolerances, the runs behind them and, for the regression test's fixed bars and its check of the
most confused pairs, how many of the runs pass them.
"""

import argparse
import ast
import hashlib
import json
import math
import statistics
import subprocess
from pathlib import Path

from benchmarks import regression_detection, regression_figures
from benchmarks.machine import processor_name
from benchmarks.training import run_notebook

ROOT = Path(__file__).resolve().parent.parent

RUNS = ROOT / "reports" / "tolerance_runs.jsonl"
OUTPUT = ROOT / "reports" / "regression_tolerances.json"
FALSE_ALARM_RATE = 0.01
COMMITTED_PROCESSOR = "Intel(R) Xeon(R) Processor (AMX)"  # metrics.json does not record it: issue 48's run, there
FLOOR = 0.002  # two test images of a class of 1,000: the figures move in steps of 0.001
FINGERPRINTED_MODULES = ("recipe.py", "model.py", "train.py", "data.py")  # what builds and trains the network


def recipe_fingerprint() -> str:
    """What the notebook trains, and with what: its code cells, the code of the modules that build and train the
    network (not their docstrings or comments, so that a reworded sentence keeps the runs) and the locked
    dependencies."""
    cells = json.loads((ROOT / regression_detection.NOTEBOOK).read_text(encoding="utf-8"))["cells"]
    parts = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    parts += [code((ROOT / "src" / "fmnist" / name).read_text()) for name in FINGERPRINTED_MODULES]
    parts.append((ROOT / "uv.lock").read_text())
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:12]


def code(source: str) -> str:
    """A module as Python runs it: its syntax tree without docstrings (comments never reach the tree)."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr):
            if isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
                node.body = body[1:]
    return ast.dump(tree)


def record(seed: int, precision: str, metrics: dict) -> dict:
    """One run's line: what ran where, and its whole metrics.json."""
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    return {
        "seed": seed,
        "precision": precision,
        "processor": processor_name(),
        "commit": commit.stdout.strip(),
        "recipe": recipe_fingerprint(),
        "metrics": metrics,
    }


def recorded_runs() -> list[dict]:
    """The recorded runs of the recipe as it stands."""
    runs = [json.loads(line) for line in RUNS.read_text().splitlines()] if RUNS.exists() else []
    current = recipe_fingerprint()
    return [run for run in runs if run.get("recipe") == current]


def execute(seeds, precision: str, done: set):
    native, not_native = regression_detection.clean_precisions()
    if precision not in native:  # emulated bfloat16: many times slower, and the notebook never picks it here
        print(f"{precision} not run on {processor_name()}: {not_native[precision]}")
        return
    for seed in seeds:
        if (seed, precision, processor_name()) in done:
            print(f"seed {seed} in {precision} on {processor_name()}: already recorded")
            continue
        metrics = run_notebook(seed, ROOT / "build" / "seeds" / f"{precision}-{seed}", precision)
        with RUNS.open("a") as runs:
            runs.write(json.dumps(record(seed, precision, metrics)) + "\n")
        print(f"seed {seed} in {precision}: test accuracy {metrics['test_accuracy']:.4f}")


def tolerances(runs: list[dict]) -> dict:
    """The tolerances from `runs` (the committed run first), and how often the exact and fixed-bar checks hold."""
    figures = [regression_figures.rounding_dependent_figures(run["metrics"]) for run in runs]
    z = statistics.NormalDist().inv_cdf(1 - FALSE_ALARM_RATE / len(figures[0]) / 2)
    spread = {name: statistics.stdev(run[name] for run in figures) for name in figures[0]}
    reference = runs[0]["metrics"]
    failures = [regression_figures.bar_failures(run["metrics"], reference, run["precision"]) for run in runs]
    return {
        "false_alarm_rate": FALSE_ALARM_RATE,
        "compared_figures": len(spread),
        "z": round(z, 3),
        "method": "z·√2·s per figure (difference of two runs), s over all runs, at least the floor",
        "floor": FLOOR,
        "runs": [
            {key: run[key] for key in ("seed", "precision", "processor", "commit")}
            | {"test_accuracy": run["metrics"]["test_accuracy"]}
            for run in runs
        ],
        "processors": sorted({run["processor"] for run in runs}),
        "std": spread,
        "tolerance": {name: max(z * math.sqrt(2) * s, FLOOR) for name, s in spread.items()},
        "runs_whose_confusions_agree": sum(
            regression_figures.confusions_agree(run["metrics"], reference) for run in runs
        ),
        "runs_failing_a_bar": {bar: sum(bar in run for run in failures) for bar in sorted(set().union(*failures))},
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="*", default=[], help="seeds to execute in bfloat16")
    parser.add_argument("--float32-seeds", type=int, nargs="*", default=[], help="seeds to execute in float32")
    arguments = parser.parse_args()
    done = {(run["seed"], run["precision"], run["processor"]) for run in recorded_runs()}
    execute(arguments.seeds, "mixed_bfloat16", done)
    execute(arguments.float32_seeds, "float32", done)
    committed = json.loads((ROOT / "reports" / "metrics.json").read_text())
    reference = {"seed": committed["recipe"]["seed"], "precision": committed["training_precision"]}
    reference.update(processor=COMMITTED_PROCESSOR, commit="committed", metrics=committed)
    runs = recorded_runs()
    if not runs:
        parser.error(f"{RUNS.name} holds no run of the recipe as it stands: execute some with --seeds")
    result = tolerances([reference, *runs])
    OUTPUT.write_text(json.dumps(result, indent=2) + "\n")
    print(f"{len(result['runs'])} runs; z {result['z']} over {result['compared_figures']} figures; wrote {OUTPUT}")


if __name__ == "__main__":
    main()
