"""Does the regression test catch regressions? Inject realistic mistakes one at a time and run the test command.

    python -m benchmarks.regression_detection [--only NAME ...] [--clean-only] [--resume]

Each mutation is a small change a contributor could make by mistake, in every module that the notebook's
numbers, figures and the API's answers pass through, applied to a scratch copy of the committed tree (a git
worktree of HEAD under build/mutations/). The benchmark runs the README's test command, `make test`, in that
copy, with this checkout's virtual environment and the copy's own sources, and pytest's `-x` (each step stops
at its first failure; make stops at the first failing step). A mutation is caught when a test fails: the
JUnit XML of the failing step names the test and its first message. A run that fails outside any test
(install, network, a missing program) is no catch: it is recorded and the run is repeated, up to `ATTEMPTS`
times. First the unmutated tree runs the same command in each precision this processor trains in natively
(`FMNIST_PRECISION`): bfloat16 where it has bfloat16 units, and float32; each must pass. Every run comes
from one tree, recorded in reports/regression_detection.json as the commit that held it; `--resume` runs
what the report lacks, as long as HEAD differs from that commit in the report alone (an interrupted
benchmark goes on after its partial report is committed).
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ElementTree
from pathlib import Path

from benchmarks.machine import processor_name
from fmnist import train

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "Fashion_MNIST_model_training.ipynb"
ATTEMPTS = 2
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
        "the mirror left out of the notebook's augmentation, as in a tutorial that trusts the dataset's shoes",
        NOTEBOOK,
        'return keras.Sequential([mirror, shift, tilt], name="augmentation")',
        'return keras.Sequential([shift, tilt], name="augmentation")',
    ),
    (
        "review rule",
        "the temperature and review thresholds fitted on the validation photos as drawn, without their augmented copy",
        NOTEBOOK,
        "x_review = np.concatenate([x_val, build_augmentation()(x_val, training=True)])",
        "x_review = np.concatenate([x_val, x_val])",
    ),
    (
        "schedule",
        "the cosine decays over twice the steps, so the learning rate never reaches zero",
        NOTEBOOK,
        "decay_steps=total_steps - warmup_steps,",
        "decay_steps=2 * total_steps,",
    ),
    (
        "label smoothing",
        "the loss built without its label smoothing",
        NOTEBOOK,
        "keras.losses.CategoricalCrossentropy(label_smoothing=LABEL_SMOOTHING)",
        "keras.losses.CategoricalCrossentropy()",
    ),
    (
        "tilt",
        "the tilt's range typed in degrees where Keras takes a share of a full turn",
        NOTEBOOK,
        'layers.RandomRotation(5 / 360, fill_mode="constant", seed=seed)',
        'layers.RandomRotation(5, fill_mode="constant", seed=seed)',
    ),
    (
        "optimizer",
        "an Adam keyword added in the notebook (beta_2=0.99)",
        NOTEBOOK,
        "keras.optimizers.Adam(learning_rate=schedule, weight_decay=weight_decay)",
        "keras.optimizers.Adam(learning_rate=schedule, weight_decay=weight_decay, beta_2=0.99)",
    ),
    (
        "batch norm",
        "batch normalisation's epsilon ten times larger",
        "src/fmnist/model.py",
        "def __init__(self, momentum=0.99, epsilon=1e-3, **kwargs):",
        "def __init__(self, momentum=0.99, epsilon=1e-2, **kwargs):",
    ),
    (
        "similar items",
        "the index compares raw embeddings (dot product) instead of unit vectors (cosine)",
        "src/fmnist/core/search.py",
        "return vectors / np.maximum(norms, 1e-12)",
        "return vectors",
    ),
    (
        "catalogue",
        "the catalogue stores raw embeddings, not unit vectors",
        "src/fmnist/core/catalogue.py",
        "vectors=normalize(embeddings),",
        "vectors=np.asarray(embeddings, dtype=np.float32),",
    ),
    (
        "explanation",
        "occlusion fills each patch with white instead of the black background",
        "src/fmnist/core/occlusion.py",
        "BLACK = 0.0  # Fashion-MNIST's background",
        "BLACK = 1.0  # Fashion-MNIST's background",
    ),
    (
        "export",
        "the float32 TFLite model quantised too (the optimisation flag set outside its `if`)",
        "src/fmnist/export.py",
        "    if quantize:\n        converter.optimizations = [tf.lite.Optimize.DEFAULT]",
        "    converter.optimizations = [tf.lite.Optimize.DEFAULT]",
    ),
    (
        "confusions",
        "the top confusions count a class confused with itself (the diagonal kept)",
        "src/fmnist/evaluate.py",
        "np.triu(matrix + matrix.T, k=1)",
        "np.triu(matrix + matrix.T, k=0)",
    ),
    (
        "confusion figure",
        "the confusion matrix normalised by predicted class, not true class",
        "src/fmnist/plots.py",
        'normalize="true",',
        'normalize="pred",',
    ),
    (
        "prediction colours",
        "right predictions titled red and wrong ones blue",
        "src/fmnist/plots.py",
        "color=RIGHT if predicted == truth else WRONG",
        "color=WRONG if predicted == truth else RIGHT",
    ),
    (
        "training curves",
        "the validation curve drawn from the training history",
        "src/fmnist/plots.py",
        'history[f"val_{metric}"], "s-"',
        'history[metric], "s-"',
    ),
    (
        "slides",
        "the slides quote the last validation accuracy as the test accuracy",
        "src/fmnist/slides.py",
        "return f\"{metrics['test_accuracy'] * 100:.2f} %\"",
        "return f\"{metrics['history']['val_accuracy'][-1] * 100:.2f} %\"",
    ),
    (
        "calibration",
        "the temperature search bounded below by 1, so it can only soften",
        "src/fmnist/calibrate.py",
        "bounds=(0.05, 20.0),",
        "bounds=(1.0, 20.0),",
    ),
    (
        "review score",
        "the review score is the top probability, not its margin over the runner-up",
        "src/fmnist/core/review.py",
        "return top_two[:, 1] - top_two[:, 0]",
        "return top_two[:, 1]",
    ),
    (
        "API review flag",
        "the API flags for review the tags it is surest of",
        "src/fmnist/core/review.py",
        "    flagged = np.asarray(margin) < threshold",
        "    flagged = np.asarray(margin) >= threshold",
    ),
    (
        "tag summary",
        "the tagging summary swaps its auto-tagged and to-review columns",
        "src/fmnist/tag/output.py",
        "{counts[name, False]:>11} {counts[name, True]:>9}",
        "{counts[name, True]:>11} {counts[name, False]:>9}",
    ),
    (
        "confusion directions",
        "each confused pair's two directions swapped in the report",
        "src/fmnist/evaluate.py",
        '"as_second": int(matrix[a, b]),',
        '"as_second": int(matrix[b, a]),',
    ),
    (
        "exported calibration",
        "the temperature divides the exported layer's weights but not its bias",
        "src/fmnist/calibrate.py",
        "[kernel / temperature, bias / temperature]",
        "[kernel / temperature, bias]",
    ),
    (
        "temperature on test",
        "the temperature fitted on the test split instead of the validation split",
        NOTEBOOK,
        "served.predict(x_review, batch_size=1000, verbose=0), review_labels)",
        "served.predict(x_test, batch_size=1000, verbose=0), test_labels)",
    ),
    (
        "figure only",
        "the notebook draws the confusion matrix with its arguments swapped: its rows become the predicted class",
        NOTEBOOK,
        "plots.confusion_matrix(test_labels, predicted_labels)",
        "plots.confusion_matrix(predicted_labels, test_labels)",
    ),
    (
        "photo background",
        "a photo's background taken as light when it is dark",
        "src/fmnist/core/images.py",
        "if surface.mean() > 127:",
        "if surface.mean() < 127:",
    ),
]


def copy_folder(name: str) -> Path:
    """Where the scratch copy for run NAME lives (no spaces: PYTEST_ADDOPTS splits its paths at them)."""
    return ROOT / "build" / "mutations" / name.replace(" ", "-")


def worktree(name: str) -> Path:
    """A fresh copy of the committed tree at `copy_folder(name)`."""
    folder = copy_folder(name)
    if folder.exists():
        subprocess.run(["git", "worktree", "remove", "--force", str(folder)], cwd=ROOT, check=False)
        shutil.rmtree(folder, ignore_errors=True)
    subprocess.run(["git", "worktree", "add", "--detach", str(folder), "HEAD"], cwd=ROOT, check=True)
    return folder


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


def head(folder: Path = ROOT) -> str:
    return subprocess.run(["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True).stdout.strip()


def same_tree(commit: str, output: Path, root: Path = ROOT) -> bool:
    """Whether HEAD holds what `commit` held, the report and the docs that quote it (`*.md`) aside: a report's
    runs still count after it is committed with the docs written from it."""
    report = output.resolve()
    excluded = [f":!{report.relative_to(root.resolve())}"] if report.is_relative_to(root.resolve()) else []
    command = ["git", "diff", "--quiet", commit, "HEAD", "--", ".", ":!*.md", *excluded]
    result = subprocess.run(command, cwd=root, capture_output=True, text=True)
    if result.returncode not in (0, 1):
        raise RuntimeError(f"git diff {commit} HEAD failed: {result.stderr.strip()}")
    return result.returncode == 0


def runs_to_do(arguments, previous: dict, clean_runs: int) -> tuple[list, bool]:
    """The mutations to run and whether to run the clean runs: those the report lacks with `--resume`, else
    those named (all by default) and the clean runs unless only some mutations are named."""
    if arguments.resume:
        done = {run["name"] for run in previous.get("mutations", [])}
        return [m for m in MUTATIONS if m[0] not in done], len(previous.get("clean_runs", [])) < clean_runs
    if arguments.clean_only:
        return [], True
    return [m for m in MUTATIONS if not arguments.only or m[0] in arguments.only], not arguments.only


def run_test_command(folder: Path, precision: str | None = None) -> dict:
    """`make test` in `folder` with this checkout's venv (not rebuilt) and the folder's own sources; the failing
    step's JUnit XML names its failed tests. Failures outside a test are rerun, up to `ATTEMPTS` runs."""
    venv, junit = ROOT / ".venv", folder / "build" / "junit.xml"
    env = dict(os.environ, PYTHONPATH=str(folder / "src"), PYTEST_ADDOPTS=f"-x --junitxml={junit}")
    if precision:
        env["FMNIST_PRECISION"] = precision
    command = ["make", "test", f"VENV={venv}", "-o", f"{venv}/.installed", "-o", "data"]
    outside = []
    for _ in range(ATTEMPTS):
        junit.unlink(missing_ok=True)
        start = time.perf_counter()
        result = subprocess.run(command, cwd=folder, env=env, capture_output=True, text=True)
        seconds = round(time.perf_counter() - start)
        (folder / "test.log").write_text(result.stdout + result.stderr)
        failed = failed_tests(junit) if junit.exists() else []
        if result.returncode == 0 or failed:
            return {"passed": result.returncode == 0, "seconds": seconds, "failed": failed, "outside": outside}
        outside.append((result.stdout + result.stderr).strip().splitlines()[-1:])  # no test failed: not a catch
    return {"passed": False, "seconds": seconds, "failed": [], "outside": outside}


def clean_precisions(flags: set[str] | None = None) -> tuple[list[str], dict]:
    """The precisions the clean runs train in: bfloat16 where the processor has bfloat16 units, and float32.
    Elsewhere bfloat16 is emulated, many times slower (its notebook would outlast nbval's cell timeout), and
    the notebook never picks it there; the report says so. `flags` defaults to the processor's."""
    if train.has_bfloat16_units(flags):
        return ["mixed_bfloat16", "float32"], {}
    return ["float32"], {"mixed_bfloat16": "this processor has no bfloat16 units (the notebook trains in float32)"}


def first_message(problem) -> str:
    """The line of a JUnit failure that says what went wrong: an `...Error: ...` line, else for nbval the cell
    whose outputs differ and the first differing lines, else the first line (pytest's `assert ...`)."""
    message, text = (
        re.sub(r"(\x1b|#x1B)\[[0-9;]*m", "", part or "") for part in (problem.get("message"), problem.text)
    )
    lines = [line.strip() for line in f"{message}\n{text}".splitlines() if line.strip()]
    error = next((line for line in lines if re.match(r"\w*Error: \S", line)), None)
    if error:
        return error
    if "Cell outputs differ" in message:
        cell = next(line for line in lines if "Cell outputs differ" in line)
        return " ".join([cell, *[line for line in lines if line.startswith(("- ", "+ "))][:2]])
    lines = [line for line in lines if not re.fullmatch(r"\w*Error:", line)]  # numpy's: the detail follows
    return lines[0] if lines else ""


def failed_tests(junit: Path) -> list[dict]:
    """Each failed or erroring test case of a JUnit XML file: its id and `first_message`."""
    failed = []
    for case in ElementTree.parse(junit).iter("testcase"):
        problem = case.find("failure") if case.find("failure") is not None else case.find("error")
        if problem is not None:
            failed.append(
                {"test": f"{case.get('classname')}::{case.get('name')}", "message": first_message(problem)[:300]}
            )
    return failed


def reread(output: Path) -> None:
    """Read each caught mutation's failed tests again from the JUnit file its run left in its copy."""
    report = json.loads(output.read_text())
    for mutation in report["mutations"]:
        junit = copy_folder(mutation["name"]) / "build" / "junit.xml"
        if mutation["caught"]:
            mutation["failed"] = failed_tests(junit)
    output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--only", nargs="*", help="mutations to run again (default: all); the report keeps the rest")
    which.add_argument("--clean-only", action="store_true", help="only the clean runs, keeping the mutations")
    which.add_argument("--resume", action="store_true", help="run only what the report of this tree lacks")
    which.add_argument("--reread", action="store_true", help="read the failed tests again from the kept runs")
    parser.add_argument("--output", type=Path, default=ROOT / "reports" / "regression_detection.json")
    arguments = parser.parse_args()
    if arguments.reread:
        return reread(arguments.output)
    previous = json.loads(arguments.output.read_text()) if arguments.output.exists() else {}
    if previous.get("commit") and not same_tree(previous["commit"], arguments.output):  # a report: one tree
        print(f"the report's runs come from {previous['commit'][:7]}, whose tree differs from HEAD's: run again")
        previous = {}
    precisions, skipped = clean_precisions()
    chosen, rerun = runs_to_do(arguments, previous, len(precisions))
    report = {
        "command": "make test (pytest -x: each step stops at its first failing test)",
        "commit": previous.get("commit", head()),
        "planned": len(MUTATIONS),  # how many mutations a whole run injects: a report of fewer is a partial one
        "processor": processor_name(),
        "clean_runs_not_run": skipped,
        "clean_runs": [] if rerun else previous.get("clean_runs", []),
        "mutations": [m for m in previous.get("mutations", []) if m["name"] not in {c[0] for c in chosen}],
    }

    def record(key: str, entry: dict) -> None:  # after every run, so an interrupted benchmark keeps its results
        report[key].append(entry)
        report["no_false_alarm"] = all(run["passed"] for run in report["clean_runs"])
        report["all_caught"] = all(mutation["caught"] for mutation in report["mutations"])
        arguments.output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")

    for precision in precisions if rerun else []:
        outcome = run_test_command(worktree(f"clean-{precision}"), precision)
        record("clean_runs", {"precision": precision, **outcome})
        print(f"clean {precision:<15} {'passed' if outcome['passed'] else f'FAILED: {outcome}'}", flush=True)
    for name, change, path, before, after in chosen:
        folder = worktree(name)
        mutate(folder, path, before, after)
        outcome = run_test_command(folder)
        caught = bool(outcome["failed"])
        record("mutations", {"name": name, "change": change, "file": path, "caught": caught, **outcome})
        how = outcome["failed"][0] if caught else "MISSED" if outcome["passed"] else f"no test failed: {outcome}"
        print(f"{name:<18} {outcome['seconds']:>4} s  {how}", flush=True)
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()
