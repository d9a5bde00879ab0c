"""benchmarks/tolerances.py and benchmarks/regression_detection.py: the statistics behind the regression test's
tolerances, and how a caught regression is traced to its test."""

import copy
import json
import math
import statistics
import subprocess

import pytest

from benchmarks import regression_detection, tolerances
from tests.committed import report


def run(metrics: dict, shift: float) -> dict:
    """The committed run with its test accuracy moved by `shift`."""
    moved = copy.deepcopy(metrics)
    moved["test_accuracy"] += shift
    return {"seed": 0, "precision": moved["training_precision"], "processor": "x", "commit": "c", "metrics": moved}


def test_each_tolerance_is_z_times_root_two_times_the_spread_for_a_one_percent_false_alarm_rate():
    metrics = report("metrics.json")
    runs = [run(metrics, shift) for shift in (0.0, 0.006, -0.006, 0.012)]
    result = tolerances.tolerances(runs)
    figures = result["compared_figures"]
    assert result["z"] == pytest.approx(statistics.NormalDist().inv_cdf(1 - 0.01 / figures / 2), abs=1e-3)
    spread = statistics.stdev([0.0, 0.006, -0.006, 0.012])
    assert result["std"]["test_accuracy"] == pytest.approx(spread)
    assert result["tolerance"]["test_accuracy"] == pytest.approx(result["z"] * math.sqrt(2) * spread, rel=1e-3)
    assert result["tolerance"]["test_loss"] == tolerances.FLOOR  # no spread at all: the floor
    assert result["runs_whose_confusions_agree"] == 4
    # a test accuracy moved without the served model's own: the three shifted runs fail that bar
    assert result["runs_failing_a_bar"]["served accuracy as trained"] == 3


def test_only_runs_of_the_recipe_as_it_stands_count(tmp_path, monkeypatch):
    monkeypatch.setattr(tolerances, "RUNS", tmp_path / "runs.jsonl")
    current, earlier = {"seed": 43, "recipe": tolerances.recipe_fingerprint()}, {"seed": 44, "recipe": "0123456789ab"}
    tolerances.RUNS.write_text("".join(json.dumps(line) + "\n" for line in (earlier, {"seed": 45}, current)))
    assert tolerances.recorded_runs() == [current]


def test_the_recipe_fingerprint_reads_code_not_its_docstrings_or_comments():
    reworded = 'def f():\n    """Old words."""\n    return 1  # why\n'
    assert tolerances.code(reworded) == tolerances.code("def f():\n    return 1\n")
    assert tolerances.code("def f():\n    return 1\n") != tolerances.code("def f():\n    return 2\n")


def test_the_committed_tolerances_cover_every_compared_figure_of_the_committed_run():
    measured = report("regression_tolerances.json")
    assert len(measured["runs"]) >= 8 and {"float32", "mixed_bfloat16"} <= {r["precision"] for r in measured["runs"]}
    assert set(measured["tolerance"]) == set(measured["std"]) and measured["compared_figures"] == len(measured["std"])


def test_a_catch_is_the_failed_test_and_its_assertion_message(tmp_path):
    junit = tmp_path / "junit.xml"
    junit.write_text(
        '<testsuites><testsuite name="pytest" failures="1">'
        '<testcase classname="tests.test_plots" name="test_colours" time="0.1">'
        "<failure message=\"AssertionError: assert 'red' == 'blue'\">long traceback</failure></testcase>"
        '<testcase classname="tests.test_plots" name="test_axes" time="0.1"/>'
        "</testsuite></testsuites>"
    )
    assert regression_detection.failed_tests(junit) == [
        {"test": "tests.test_plots::test_colours", "message": "AssertionError: assert 'red' == 'blue'"}
    ]


def test_an_nbval_catch_names_the_cell_and_the_first_lines_that_differ(tmp_path):
    junit = tmp_path / "junit.xml"
    failure = (
        "#x1B[91mNotebook cell execution failed#x1B[0m&#10;#x1B[94mCell 5: Cell outputs differ&#10;&#10;Input:&#10;"
        "print(names)&#10;assert reference_output == test_output failed:&#10;  - 2  Coat&#10;  + 2  Pullover"
    )
    junit.write_text(
        f'<testsuites><testsuite><testcase classname="Fashion_MNIST_model_training.ipynb" name="Cell 5">'
        f'<failure message="{failure}">{failure}</failure></testcase></testsuite></testsuites>'
    )
    assert regression_detection.failed_tests(junit) == [
        {
            "test": "Fashion_MNIST_model_training.ipynb::Cell 5",
            "message": "Cell 5: Cell outputs differ - 2  Coat + 2  Pullover",
        }
    ]


def test_every_mutation_changes_exactly_one_place_of_the_committed_tree():
    """Read from the commit, not the working tree: in the benchmark's mutated copies this test must still pass,
    or it would catch every mutation itself."""
    for name, _, path, before, after in regression_detection.MUTATIONS:
        shown = subprocess.run(
            ["git", "show", f"HEAD:{path}"], cwd=regression_detection.ROOT, capture_output=True, text=True, check=True
        )
        text = shown.stdout
        if path.endswith(".ipynb"):
            text = "".join("".join(cell["source"]) for cell in json.loads(text)["cells"])
        assert text.count(before) == 1, name
        assert before != after, name
    assert len({mutation[0] for mutation in regression_detection.MUTATIONS}) >= 16


def test_a_detection_report_counts_for_the_tree_it_ran_on_and_no_other(tmp_path):
    def commit(path: str, text: str) -> str:
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text(text)
        git("add", "-A")
        git("commit", "-q", "-m", path)
        return git("rev-parse", "HEAD")

    def git(*arguments) -> str:
        command = ["git", "-c", "user.name=t", "-c", "user.email=t@t", *arguments]
        return subprocess.run(command, cwd=tmp_path, check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    report = tmp_path / "reports" / "regression_detection.json"
    ran_on = commit("src/code.py", "x = 1\n")
    commit("reports/regression_detection.json", "{}")
    commit("docs/reproducibility.md", "the proof's table")
    assert regression_detection.same_tree(ran_on, report, tmp_path)
    commit("src/code.py", "x = 2\n")
    assert not regression_detection.same_tree(ran_on, report, tmp_path)


def test_the_clean_runs_train_in_bfloat16_only_where_the_processor_has_bfloat16_units():
    assert regression_detection.clean_precisions({"avx2", "avx512_bf16"}) == (["mixed_bfloat16", "float32"], {})
    precisions, not_run = regression_detection.clean_precisions({"avx2", "fma"})
    assert precisions == ["float32"] and list(not_run) == ["mixed_bfloat16"]
