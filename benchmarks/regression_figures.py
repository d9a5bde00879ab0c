"""What the regression test (tests/test_regression.py) compares beside the exact numbers, and what
benchmarks/tolerances.py measures over many runs: the figures that move with rounding, the most confused class
pairs, and the fixed bars. Both import it from here, so the benchmark measures what the test checks."""


def rounding_dependent_figures(metrics: dict) -> dict:
    """The numbers of a `metrics.json` that move with the seed and the processor, by name: what the regression
    test compares within the tolerances that `benchmarks/tolerances.py` measures."""
    explanations = metrics["explanations"]
    figures = {
        "test_accuracy": metrics["test_accuracy"],
        "test_loss": metrics["test_loss"],
        "precision_at_k": metrics["similar_items"]["precision_at_k"],
        "final_val_accuracy": metrics["history"]["val_accuracy"][-1],
        "random_garment_drop_10": explanations["random_garment_drop_10"],
        "temperature": metrics["calibration"]["temperature"],
    }
    for name, scores in metrics["per_class"].items():
        figures.update({f"{key} {name}": scores[key] for key in ("f1-score", "precision", "recall")})
    figures.update({f"deletion_drop_10 {name}": drop for name, drop in explanations["deletion_drop_10"].items()})
    figures.update({f"coverage at {target}": point["coverage"] for target, point in metrics["auto_tagging"].items()})
    return {name.replace("f1-score ", "f1 "): value for name, value in figures.items()}


def confused_pairs(metrics: dict) -> list:
    """The most confused class pairs, most confused first, each as a sorted pair of names."""
    return [tuple(sorted(pair["classes"])) for pair in metrics["top_confusions"]]


def confusions_agree(rerun: dict, committed: dict) -> bool:
    """The same pair is confused most, and the committed run's three most confused pairs are among the
    re-run's five: the third and fourth pairs can trade places between seeds (a difference of one image)."""
    ours, theirs = confused_pairs(rerun), confused_pairs(committed)
    return ours[0] == theirs[0] and set(theirs[:3]) <= set(ours[:5])


def bar_checks(metrics: dict, reference: dict, precision: str | None = None) -> dict:
    """Each fixed bar by name: whether `metrics` passes it, and what it read. `reference` is the committed run's
    metrics.json; the run must have trained in `precision`, by default the one `train.precision_policy` calls
    for here."""
    from fmnist import train

    parity, calibration = metrics["export_parity"], metrics["calibration"]
    accuracy, used = metrics["test_accuracy"], metrics["training_precision"]
    served = parity["keras"]["accuracy"]  # the float32, calibrated model that is exported
    checks = {"precision policy": (used == (precision or train.precision_policy()), used)}
    # The bars of the reference recipe; a learner's own recipe (3 epochs, another network) is held to its own
    # run, as the committed one, by every other check.
    reference = same_recipe(metrics, reference)
    # well under the recipe's spread over seeds (docs/reproducibility.md): a bar at 0.93 failed one of its 8 runs
    checks["test accuracy at least 0.925"] = (accuracy >= 0.925 or not reference, (accuracy, "reference", reference))
    history = metrics["history"]
    fell = history["loss"][-1] < history["loss"][0] and history["val_loss"][-1] < history["val_loss"][0]
    checks["both losses fell during training"] = (
        fell or not reference,
        {key: (values[0], values[-1]) for key, values in history.items()},
    )
    for name in ("saved_model", "tflite"):  # float32: only the order of the additions differs
        checks[f"{name} parity"] = (
            parity[name]["argmax_agreement"] >= 0.999
            and parity[name]["max_abs_probability_difference"] <= 1e-4
            and abs(parity[name]["accuracy"] - served) <= 0.001,
            parity[name],
        )
    int8 = parity["tflite_int8"]
    checks["tflite_int8 parity"] = (int8["argmax_agreement"] >= 0.99 and int8["accuracy"] >= served - 0.005, int8)
    # the served copy computes in float32: the same model for a float32 run; a model trained and evaluated in
    # bfloat16 rounds differently, which moves the images whose two top classes are close (bar unmeasured)
    checks["served accuracy as trained"] = (abs(served - accuracy) <= (0.005 if used != "float32" else 1e-6), served)
    explanations = metrics["explanations"]
    drop = explanations["deletion_drop_10"][explanations["method"]]
    beaten = drop >= 1.8 * explanations["random_garment_drop_10"]
    checks["explanations beat random pixels 1.8 times"] = (beaten or not reference, explanations)
    # Fitted on the validation photos as drawn and once augmented (issue 48), the temperature leaves a clean-test
    # ECE of 0.010 to 0.016 over 8 runs in two precisions (reports/regression_tolerances.json): mean + 3.7 sd, 0.02
    checks["test ECE at most 0.02"] = (calibration["test_ece_after"] <= 0.02, calibration)
    checks["calibration lowers the NLL"] = (calibration["test_nll_after"] < calibration["test_nll_before"], calibration)
    # The goal is the target within 0.3 points; a run on another precision or seed can miss it by more (the
    # thresholds come from 5,000 validation images): with the image checks, seed 43 in bfloat16 read 98.49 % at
    # the 99 % target, under a bar of 0.5 points (reports/tolerance_runs.jsonl), so the bar is 0.6 points.
    for target, point in metrics["auto_tagging"].items():
        checks[f"auto-tagging accuracy at {target}"] = (point["accuracy"] >= float(target) - 0.006, point)
    return checks


def same_recipe(metrics: dict, reference: dict) -> bool:
    """Whether `metrics` come from the reference run's recipe and network, whatever the seed."""
    ours, theirs = (
        {key: value for key, value in run["recipe"].items() if key != "seed"} for run in (metrics, reference)
    )
    return ours == theirs and metrics["architecture"] == reference["architecture"]


def bar_failures(metrics: dict, reference: dict, precision: str) -> list:
    """The names of the fixed bars that `metrics` misses."""
    return [name for name, (passed, _) in bar_checks(metrics, reference, precision).items() if not passed]
