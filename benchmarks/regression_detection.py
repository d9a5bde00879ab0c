"""Does the regression test catch regressions? Inject realistic mistakes one at a time and run the test command.

    python benchmarks/regression_detection.py [--only NAME ...] [--clean-only] [--precisions P ...] [--relabel]

Each mutation is a small change a contributor could make by mistake, applied to a scratch copy of the
committed tree (a git worktree under build/mutations/). The benchmark runs the README's test command, `make
test`, in that copy, with this checkout's virtual environment and the copy's own sources. A mutation is
caught when the command fails; `how` names the step that failed (the unit tests, nbval's re-execution of the
notebook, or the regression test on its metrics) and the first failing test. First, the unmutated tree runs
the same command twice, once in bfloat16 and once in float32 (`FMNIST_PRECISION`): both must pass, so the
test does not raise false alarms on another processor. Results go to reports/regression_detection.json.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "Fashion_MNIST_model_training.ipynb"
# (name, what a contributor changed, file, text before, text after): each a plausible slip in one area
MUTATIONS = [
    (
        "preprocessing",
        "pixels scaled to [-1, 1] instead of [0, 1], as in another tutorial",
        "src/fmnist/data.py",
        'return (images.astype("float32") / 255.0)[..., np.newaxis]',
        'return (images.astype("float32") / 127.5 - 1.0)[..., np.newaxis]',
    ),
    (
        "labels",
        "two class names swapped (Pullover and Coat)",
        "src/fmnist/__init__.py",
        '"Pullover",\n    "Dress",\n    "Coat",',
        '"Coat",\n    "Dress",\n    "Pullover",',
    ),
    (
        "augmentation",
        "an off-by-one in the shift: images move only up and left",
        "src/fmnist/train.py",
        "maxval=2 * max_shift + 1",
        "maxval=max_shift + 1",
    ),
    (
        "schedule",
        "the cosine decays over twice the steps, so the learning rate never reaches zero",
        NOTEBOOK,
        "decay_steps=total_steps - warmup_steps,",
        "decay_steps=2 * total_steps,",
    ),
    (
        "regularisation",
        "the loss built without its label smoothing",
        NOTEBOOK,
        "keras.losses.CategoricalCrossentropy(label_smoothing=LABEL_SMOOTHING)",
        "keras.losses.CategoricalCrossentropy()",
    ),
    (
        "similar_items",
        "the index compares raw embeddings (dot product) instead of unit vectors (cosine)",
        "src/fmnist/similar.py",
        "return vectors / np.maximum(norms, 1e-12)",
        "return vectors",
    ),
    (
        "explanation",
        "occlusion fills each patch with white instead of the black background",
        "src/fmnist/explain.py",
        "np.where(patches[changes][..., np.newaxis], 0, image)",
        "np.where(patches[changes][..., np.newaxis], 1, image)",
    ),
    (
        "export",
        "the float32 TFLite model quantised too (the optimisation flag set outside its `if`)",
        "src/fmnist/export.py",
        "    if quantize:\n        converter.optimizations = [tf.lite.Optimize.DEFAULT]",
        "    converter.optimizations = [tf.lite.Optimize.DEFAULT]",
    ),
]


def worktree(name: str) -> Path:
    """A fresh copy of the committed tree at build/mutations/NAME."""
    folder = ROOT / "build" / "mutations" / name
    if folder.exists():
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=False)
        shutil.rmtree(folder, ignore_errors=True)
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), "HEAD"], cwd=ROOT, check=True)
    return folder


def commit(folder: Path) -> str:
    """The commit a scratch copy was made from."""
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=folder, capture_output=True, text=True
    ).stdout.strip()


def mutate(folder: Path, path: str, before: str, after: str) -> None:
    """Replace the one occurrence of `before` in `path` (in a notebook: in a cell's source)."""
    target = folder / path
    if path.endswith(".ipynb"):
        notebook = json.loads(target.read_text())
        cells = [cell for cell in notebook["cells"] if before in "".join(cell["source"])]
        if len(cells) != 1:
            raise ValueError(f"{before!r} is in {len(cells)} cells of {path}, not one")
        source = "".join(cells[0]["source"]).replace(before, after)
        cells[0]["source"] = source.splitlines(keepends=True)
        target.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
        return
    text = target.read_text()
    if text.count(before) != 1:
        raise ValueError(f"{before!r} occurs {text.count(before)} times in {path}, not once")
    target.write_text(text.replace(before, after))


def run_test_command(folder: Path, precision: str | None = None) -> dict:
    """`make test` in `folder` with this checkout's venv (not rebuilt) and the folder's own sources."""
    venv = ROOT / ".venv"
    env = dict(os.environ, PYTHONPATH=str(folder / "src"))
    if precision:
        env["FMNIST_PRECISION"] = precision
    command = ["make", "test", f"VENV={venv}", "-o", f"{venv}/.installed", "-o", "data"]
    start = time.perf_counter()
    result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
    log = result.stdout + result.stderr
    (folder / "test.log").write_text(log)
    return {"passed": result.returncode == 0, "seconds": round(time.perf_counter() - start), "how": failure(log)}


def failure(log: str) -> str:
    """The step of `make test` that failed, its first failing test and that test's message."""
    log = re.sub(r"\x1b\[[0-9;]*m", "", log)  # nbval colours its tracebacks
    commands = [line for line in log.splitlines() if "-m pytest" in line]
    if not commands:
        return "the command failed before the tests"
    step = (
        "regression test" if "-m regression" in commands[-1] else "nbval" if "--nbval" in commands[-1] else "unit tests"
    )
    failed = re.search(r"^(?:FAILED|ERROR) (.+?)(?: - (.*))?$", log, re.MULTILINE)
    if not failed:
        return step
    test, message = failed.groups()
    if step == "nbval":  # pytest's summary only says the cell failed; the traceback names the assertion
        assertion = re.search(r"^(AssertionError: .+)$", log, re.MULTILINE)
        message = assertion.group(1) if assertion else None
    return f"{step}: {test}" + (f" ({message[:120]})" if message else "")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", help="mutations to run again (default: all); the report keeps the rest")
    parser.add_argument("--clean-only", action="store_true", help="only the clean runs, keeping the mutations")
    parser.add_argument("--precisions", nargs="+", default=["mixed_bfloat16", "float32"], help="of the clean runs")
    parser.add_argument("--output", type=Path, default=ROOT / "reports" / "regression_detection.json")
    parser.add_argument("--relabel", action="store_true", help="re-read `how` from the kept logs, run nothing")
    arguments = parser.parse_args()
    if arguments.relabel:
        report = json.loads(arguments.output.read_text())
        for mutation in report["mutations"]:
            folder = ROOT / "build" / "mutations" / mutation["name"]
            mutation["how"] = failure((folder / "test.log").read_text()) if mutation["caught"] else mutation["how"]
            mutation["commit"] = commit(folder)
        for run in report["clean_runs"]:
            run["commit"] = commit(ROOT / "build" / "mutations" / f"clean-{run['precision']}")
        arguments.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
        return
    chosen = [] if arguments.clean_only else [m for m in MUTATIONS if not arguments.only or m[0] in arguments.only]
    previous = json.loads(arguments.output.read_text()) if arguments.output.exists() else {}
    report = {
        "command": "make test",
        "clean_runs": [run for run in previous.get("clean_runs", []) if run["precision"] not in arguments.precisions],
        "mutations": [m for m in previous.get("mutations", []) if m["name"] not in {c[0] for c in chosen}],
    }

    def record(key: str, entry: dict) -> None:  # after every run, so an interrupted benchmark keeps its results
        report[key].append(entry)
        report["no_false_alarm"] = all(run["passed"] for run in report["clean_runs"])
        report["all_caught"] = all(mutation["caught"] for mutation in report["mutations"])
        arguments.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")

    for precision in arguments.precisions:
        folder = worktree(f"clean-{precision}")
        outcome = run_test_command(folder, precision)
        entry = {"precision": precision, "passed": outcome["passed"], "seconds": outcome["seconds"]}
        record("clean_runs", {**entry, "commit": commit(folder)})
        print(f"clean {precision:<15} {'passed' if outcome['passed'] else 'FAILED: ' + outcome['how']}", flush=True)
    for name, change, path, before, after in chosen:
        folder = worktree(name)
        mutate(folder, path, before, after)
        outcome = run_test_command(folder)
        caught = not outcome["passed"]
        how = outcome["how"] if caught else "not caught: make test passed"
        entry = {"name": name, "change": change, "file": path, "caught": caught, "how": how}
        record("mutations", {**entry, "commit": commit(folder)})
        print(f"{name:<15} {'caught' if caught else 'MISSED'} in {outcome['seconds']} s: {how}", flush=True)
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
