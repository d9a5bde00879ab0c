"""The figures that README.md quotes are those of the committed reports."""

import json
import re
import statistics

import pytest

from fmnist import images
from tests.committed import ROOT, report, report_text


def detection() -> dict:
    """reports/regression_detection.json, or no runs where the proof has not been run on this commit yet."""
    try:
        return report("regression_detection.json")
    except FileNotFoundError:
        return {"mutations": [], "clean_runs": []}


def quoted_figures() -> dict:
    """Each figure README.md quotes, formatted as it is quoted, from `reports/*.json`."""
    metrics, training = report("metrics.json"), report("training_benchmark.json")
    calibration, photos = metrics["calibration"], report("photo_benchmark.json")
    shown, float32 = metrics["explanations"], training["float32"]
    shown_ratio = shown["deletion_drop_10"][shown["method"]] / shown["random_garment_drop_10"]
    serving, setup = report("serving_benchmark.json"), report("setup_time.json")
    load = serving["concurrent"]["steady_state"]
    load_ratio = serving["concurrent"]["steady_state_throughput_ratio"]
    speed, seeds = training["time_to_accuracy"], training["accuracy_seeds"]
    proof, similar = detection(), report("similar_benchmark.json")
    installs = report("install_size.json")
    caught = sum(mutation["caught"] for mutation in proof["mutations"])
    passed = [run["precision"] for run in proof["clean_runs"] if run["passed"]]
    detection_figure = (
        f"{caught} of {len(proof['mutations'])} injected regressions caught, each by a named test; "
        f"clean runs pass in {' and '.join(passed) or 'no precision'}"
    )
    return {
        **({"detection": detection_figure} if proof["mutations"] else {}),
        "install_size": f"{installs['serving']['megabytes']:,} MB, against {installs['full']['megabytes']:,} MB",
        "sweep_variants": f"a search over {len(report('recipe_sweep.json')['variants'])} variants",
        "test_accuracy": f"{metrics['test_accuracy']:.4f}",
        "calibration": f"temperature {calibration['temperature']:.2f}: expected calibration error "
        f"{calibration['test_ece_before']:.3f} → {calibration['test_ece_after']:.3f}, negative log-likelihood "
        f"{calibration['test_nll_before']:.3f} → {calibration['test_nll_after']:.3f}",
        "auto_tagging": "; ".join(
            f"target {float(target):.1%}: {point['coverage']:.1%} tagged alone, {point['accuracy']:.2%} right"
            for target, point in metrics["auto_tagging"].items()
        ),
        "photos": f"{len(photos['conditions'])} kinds of product photo: accuracy {photos['mean_drop'] * 100:.2f} "
        f"points below the same images at 28 × 28 on average, {photos['largest_drop'] * 100:.2f} at most; "
        f"`fmnist.tag` {photos['tagging']['28x28_png']['images_per_s']:,} images/s (28 × 28 PNGs)",
        "parameters": f"{metrics['parameters']:,}",
        "epochs": f"{metrics['recipe']['epochs']} epochs",
        "batch_size": f"batch {metrics['recipe']['batch_size']}",
        "shirt_f1": f"F1 {metrics['per_class']['Shirt']['f1-score']:.3f}",
        "precision_at_5": f"precision@5 {metrics['similar_items']['precision_at_k']:.3f}",
        "tflite_agreement": f"{metrics['export_parity']['tflite']['argmax_agreement']:.1%}",
        "seed_mean": f"{seeds['mean']:.4f} ± {seeds['std']:.4f}",
        "seeds": "seeds " + ", ".join(str(seed) for seed in seeds["seeds"]),
        "previous_seconds": f"{speed['previous_recipe_seconds']:.0f} s",
        "project_seconds": f"{speed['project_seconds']:.0f} s",
        "ratio": f"{speed['ratio']:.2f}×",
        "notebook_seconds": f"{training['notebook_seconds']:.0f} s",
        "notebook_minutes": f"{training['notebook_seconds'] / 60:.1f} minutes",
        "training_minutes": f"{training['notebook_train_seconds']['mean'] / 60:.1f} of them training",
        "serving": f"light client's p99 {serving['stall']['light_p99_ms_heavy']:.2f} ms beside two clients uploading "
        f"6000×6000 PNGs; {serving['fuzz']['cases']:,} fuzzed requests, {serving['fuzz']['failures']} failures; "
        f"{load['connections']} connections kept alive: {load['requests_per_s']:,.0f} requests/s "
        f"({load_ratio:.0%} of the previous server's), p99 {load['p99_ms']:,.0f} ms",
        "setup_seconds": f"{setup['after']['seconds']:.1f} s with uv from an empty cache",
        "float32_mean": f"{float32['accuracy_seeds']['mean']:.4f} ± {float32['accuracy_seeds']['std']:.4f}",
        "float32_minutes": f"{float32['notebook_seconds']['mean'] / 60:.1f} minutes in all",
        "similar": f"{similar['items']:,} items: recall@10 {similar['recall_at_10']:.3f}, "
        f"p99 {similar['p99_ms']:.2f} ms per query ({similar['engine']})",
        "explanation_ratio": f"({shown['method']}, {shown['images']} test images) | blanking the 10 % top-ranked "
        f"pixels drops the class probability {shown_ratio:.2f}× as much",
    }


QUOTED = [
    "test_accuracy",
    "calibration",
    "auto_tagging",
    "photos",
    "parameters",
    "epochs",
    "batch_size",
    "shirt_f1",
    "precision_at_5",
]
QUOTED += ["tflite_agreement", "seed_mean", "seeds", "previous_seconds", "project_seconds"]
QUOTED += ["ratio", "notebook_seconds", "notebook_minutes", "training_minutes", "explanation_ratio", "serving"]
QUOTED += ["setup_seconds", "float32_mean", "float32_minutes", "sweep_variants", "similar", "install_size"]
QUOTED += ["detection"] if detection()["mutations"] else []  # once the proof has run on this commit


def test_every_quoted_figure_is_checked():
    assert sorted(QUOTED) == sorted(quoted_figures())


@pytest.mark.parametrize("name", QUOTED)
def test_readme_quotes_the_reported_figure(name):
    figure = quoted_figures()[name]
    assert figure in (ROOT / "README.md").read_text(), f"README.md should quote {name} as {figure!r}"


def test_readme_is_short_and_links_the_docs():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    for link in re.findall(r"\]\((docs/[\w.]+)\)", readme):
        assert (ROOT / link).is_file(), link


def explanation_rows() -> list[str]:
    """The rows of docs/explanations.md's table, formatted from reports/explanations.json."""
    explained = report("explanations.json")
    rows = []
    for name, method in explained["methods"].items():
        label = f"{name} (default)" if name == explained["default_method"] else name
        rows.append(
            f"| {label} | {method['deletion_drop_10']:.3f} | {method['deletion_ratio']:.2f}× "
            f"| {method['deletion_auc']:.3f} | {method['insertion_auc']:.3f} | {method['garment_share']:.3f} "
            f"| {method['sanity_rank_correlation']:.2f} ({'passes' if method['sanity_passed'] else 'fails'}) "
            f"| {method['milliseconds_per_image']:.1f} ms |"
        )
    baseline = explained["random_garment_baseline"]["deletion_drop_10"]
    rows.append(f"| random garment pixels (the baseline) | {baseline:.3f} | 1.00× | | | | | |")
    rows.append(f"| a uniform map | | | | | {explained['uniform_garment_share']:.3f} | | |")
    return rows


@pytest.mark.parametrize("row", explanation_rows())
def test_the_explanations_doc_quotes_the_reported_figures(row):
    assert row in (ROOT / "docs" / "explanations.md").read_text()


def concurrency_rows(serving: dict) -> list[str]:
    """docs/serving.md's rows for many connections: steady state and burst, this server and the previous one."""
    concurrent = serving["concurrent"]
    baseline, workers = concurrent["baseline"], serving["server"]["workers"]

    def figures(run: dict) -> str:
        timeouts = f", {run['timeouts']} timeouts" if "timeouts" in run["rounds"][0] else ""
        return (
            f"{run['requests_per_s']:,.0f} requests/s, p50 {run['p50_ms']:.0f} ms, p99 {run['p99_ms']:,.0f} ms, "
            f"{run['errors']} errors{timeouts} |"
        )

    steady, burst = concurrent["steady_state"], concurrent["burst"]
    return [
        f"| steady state: {steady['connections']} connections kept alive, {steady['seconds']} s measured after "
        f"{steady['rounds'][0]['warm_up_seconds']} s of warm-up (h2load on the same 2 cores), {workers} workers "
        f"| " + figures(steady),
        f"| the same, the previous server ({baseline['commit']}) | " + figures(baseline["steady_state"]),
        f"| burst: {burst['connections']} new connections at once, {burst['seconds']} s from the first (wrk) "
        f"| " + figures(burst),
        f"| the same, the previous server ({baseline['commit']}) | " + figures(baseline["burst"]),
    ]


def serving_rows() -> list[str]:
    """The rows of docs/serving.md's speed table, formatted from reports/serving_benchmark.json."""
    serving = report("serving_benchmark.json")
    single, explained = serving["single_client"], serving["explain"]
    stall, fuzz, batch = serving["stall"], serving["fuzz"], serving["batch_images_per_s_by_model"]
    return [
        f"| one client, back to back, {single['requests']:,} requests to `/predict` "
        f"| p50 {single['p50_ms']:.2f} ms, p99 {single['p99_ms']:.2f} ms |",
        f"| one client, {explained['requests']:,} requests to `/explain` "
        f"| p50 {explained['p50_ms']:.0f} ms, p99 {explained['p99_ms']:.0f} ms |",
        *concurrency_rows(serving),
        f"| light client alone (one worker) | p99 {stall['light_p99_ms_quiet']:.2f} ms, "
        f"{stall['light_requests_per_s_quiet']:,.0f} requests/s |",
        f"| light client beside {stall['heavy_clients']} clients of 6000×6000 PNGs "
        f"| p99 {stall['light_p99_ms_heavy']:.2f} ms, {stall['light_requests_per_s_heavy']:,.0f} requests/s "
        f"({stall['light_throughput_ratio']:.0%} of alone); heavy uploads: {stall['heavy_timeouts']} timeouts |",
        f"| fuzzing, {fuzz['examples_per_test']} examples per test | {fuzz['cases']:,} requests, "
        f"{fuzz['failures']} failures |",
        f"| in-process batches of 1,000 (LiteRT, 2 threads) | {batch['fashion_cnn.tflite']:,} images/s float32, "
        f"{batch['fashion_cnn_int8.tflite']:,} images/s int8 weights |",
    ]


@pytest.mark.parametrize("row", serving_rows())
def test_the_serving_doc_quotes_the_reported_figures(row):
    assert row in (ROOT / "docs" / "serving.md").read_text()


def similar_rows() -> list[str]:
    """The rows of docs/similar.md's search table, formatted from reports/similar_benchmark.json."""
    bench = report("similar_benchmark.json")
    rows = [
        f"| exact | {run['items']:,} | – | {4 * bench['embedding_size']:,} | 1 (by definition) "
        f"| {run['p50_ms']:.2f} ms | {run['p99_ms']:.2f} ms |"
        for run in bench["exact"]
    ]
    knobs = bench["parameters"]
    return rows + [
        f"| FAISS HNSW (M {knobs['M']}, efSearch {knobs['efSearch']}) | {bench['items']:,} "
        f"| {bench['build_seconds']:.0f} s | {bench['bytes_per_item']:,.0f} | {bench['recall_at_10']:.4f} "
        f"| {bench['p50_ms']:.2f} ms | {bench['p99_ms']:.2f} ms |",
        f"threshold: {bench['ann_threshold']:,} items",
    ]


@pytest.mark.parametrize("row", similar_rows())
def test_the_similar_items_doc_quotes_the_reported_figures(row):
    assert row in (ROOT / "docs" / "similar.md").read_text()


def test_the_ann_threshold_is_where_exact_search_stops_being_cheap():
    """Exact search at the threshold answers within about a millisecond; at the next measured size it doesn't."""
    from fmnist import catalogue

    bench = report("similar_benchmark.json")
    assert bench["ann_threshold"] == catalogue.ANN_THRESHOLD
    at = [run for run in bench["exact"] if run["items"] <= catalogue.ANN_THRESHOLD][-1]
    above = [run for run in bench["exact"] if run["items"] > catalogue.ANN_THRESHOLD][0]
    assert at["p99_ms"] <= 1.5 < above["p99_ms"] and above["p99_ms"] > bench["p99_ms"]


def sweep_rows() -> list[str]:
    """The rows of docs/training.md's recipe-search tables, formatted from reports/recipe_sweep.json.

    Rounds 1 and 2 list every seed's accuracy; rounds 3 and 4 (more seeds) the gain over the committed recipe.
    """
    rows = []
    for variant in report("recipe_sweep.json")["variants"]:
        gain = variant.get("gain_over_committed")
        if gain is None:
            seeds = " / ".join(f"{accuracy:.4f}" for accuracy in variant["val_accuracy"].values())
            rows.append(f"| {variant['round']} | {variant['name']} | {seeds} | {variant['mean']:.4f} |")
        else:
            rows.append(
                f"| {variant['round']} | {variant['name']} | {len(variant['val_accuracy'])} | {variant['mean']:.4f} "
                f"| {gain['mean']:+.4f} ± {gain['standard_error']:.4f} ({gain['seeds']} seeds) |"
            )
    return rows


def test_the_training_doc_counts_the_variants_and_runs_of_the_recipe_search():
    sweep = report("recipe_sweep.json")
    assert f"{len(sweep['variants'])} variants, {sweep['runs']} runs" in (ROOT / "docs" / "training.md").read_text()


@pytest.mark.parametrize("row", sweep_rows())
def test_the_training_doc_quotes_every_variant_of_the_recipe_search(row):
    assert row in (ROOT / "docs" / "training.md").read_text()


def cpu_runs() -> list[dict]:
    return [json.loads(line) for line in report_text("recipe_cpu_runs.jsonl").splitlines()]


def cpu_rows() -> list[str]:
    """The rows of docs/training.md's table of CPU runs, from reports/recipe_cpu_runs.jsonl, one per variant."""
    variants = {}
    for run in cpu_runs():
        variants.setdefault(run["tag"], []).append(run)
    rows = []
    for tag, runs in variants.items():
        accuracies = ", ".join(f"{run['seed']}: {run['val_accuracy']:.4f}" for run in runs)
        mean = statistics.mean(run["val_accuracy"] for run in runs)
        seconds = statistics.mean(run["train_seconds"] for run in runs if run["train_seconds"] is not None)
        rows.append(f"| {tag} | {runs[0]['epochs']} | {accuracies} | {mean:.4f} | {seconds:.0f} s |")
    return rows


def test_the_training_doc_counts_the_cpu_runs():
    runs = cpu_runs()
    counted = f"{len({run['tag'] for run in runs})} configurations, {len(runs)} runs on the CPU"
    assert counted in (ROOT / "docs" / "training.md").read_text()


@pytest.mark.parametrize("row", cpu_rows())
def test_the_training_doc_quotes_every_cpu_run_of_the_recipe_search(row):
    assert row in (ROOT / "docs" / "training.md").read_text()


def training_doc_as_one_line() -> str:
    """docs/training.md with its line breaks and runs of spaces made single spaces, for quoted sentences."""
    return " ".join((ROOT / "docs" / "training.md").read_text().split())


def timed_notebooks(runs: dict) -> str:
    """The whole-notebook seconds of the runs that a benchmark timed, in seed order: "290 s and 329 s"."""
    return " and ".join(f"{run['notebook_seconds']:.0f} s" for run in runs.values() if run["notebook_seconds"])


def longer_recipe_sentence() -> str:
    """docs/training.md's sentence on the 25-epoch recipe's benchmark, from reports/recipe_25_epochs.json."""
    longer = report("recipe_25_epochs.json")
    accuracies = ", ".join(f"{run['test_accuracy']:.4f}" for run in longer["runs"].values())
    return (
        f"Test accuracy for seeds {', '.join(longer['runs'])}: {accuracies}, mean "
        f"{longer['accuracy_seeds']['mean']:.4f}; the whole notebook took {timed_notebooks(longer['runs'])} (mean "
        f"{longer['notebook_seconds_mean']:.0f} s)."
    )


def test_the_training_doc_quotes_the_longer_recipes_benchmark():
    assert longer_recipe_sentence() in training_doc_as_one_line()


def clean_recipe_sentence() -> str:
    """docs/training.md's sentence on the benchmark of peak 4e-3 with unshifted last epochs (not kept)."""
    tried, committed = report("recipe_peak_4e-3.json"), report("metrics.json")
    runs = tried["runs"]
    return (
        f"Validation accuracy for seeds {', '.join(runs)}: "
        + ", ".join(f"{run['val_accuracy']:.4f}" for run in runs.values())
        + f", mean {tried['val_accuracy_seeds']['mean']:.4f}; test accuracy "
        + ", ".join(f"{run['test_accuracy']:.4f}" for run in runs.values())
        + f", mean {tried['accuracy_seeds']['mean']:.4f}; the whole notebook took {timed_notebooks(runs)}. Seed 42's "
        f"validation accuracy fell from {committed['history']['val_accuracy'][-1]:.4f} (the committed recipe) to "
        f"{runs['42']['val_accuracy']:.4f}."
    )


def test_the_training_doc_quotes_the_benchmark_of_the_recipe_it_did_not_keep():
    assert clean_recipe_sentence() in training_doc_as_one_line()


def more_images_sentence() -> str:
    """docs/training.md's sentence on the run trained on 59,000 images, from reports/recipe_59k_images.json."""
    run, committed = report("recipe_59k_images.json"), report("metrics.json")
    return (
        f"With {run['validation_size']:,} validation images, seed {run['seed']} reached test accuracy "
        f"{run['test_accuracy']:.4f} (validation {run['val_accuracy']:.4f} on those {run['validation_size']:,}) in "
        f"{run['train_seconds']:.0f} s of training, against {committed['test_accuracy']:.4f} for the committed run."
    )


def test_the_training_doc_quotes_the_run_on_more_images():
    assert more_images_sentence() in training_doc_as_one_line()


def tolerance_summary() -> str:
    """docs/reproducibility.md's sentence on the runs behind the tolerances, from reports/regression_tolerances.json."""
    measured = report("regression_tolerances.json")
    runs, failing = measured["runs"], measured["runs_failing_a_bar"]

    def seeds(precision: str) -> str:
        return ", ".join(str(run["seed"]) for run in runs if run["precision"] == precision)

    return (
        f"{len(runs)} runs: seeds {seeds('mixed_bfloat16')} in bfloat16 and {seeds('float32')} in float32 (the "
        f"committed run included), on {' and '.join(measured['processors'])}; {measured['compared_figures']} "
        f"compared figures, so z = {measured['z']:.2f}. Of the runs, "
        f"{measured['runs_whose_confusions_agree']} agree with the committed run's most confused pairs, and "
        + (", ".join(f"{count} fail the bar {bar!r}" for bar, count in failing.items()) or "none fails a fixed bar")
        + "."
    )


def tolerance_rows() -> list[str]:
    """The rows of docs/reproducibility.md's tolerance table, from reports/regression_tolerances.json."""
    measured = report("regression_tolerances.json")
    tolerance, floor = measured["tolerance"], measured["floor"]
    return [
        f"| {name} | {std:.4f} | ±{tolerance[name]:.4f} |" + (" (the floor)" if tolerance[name] == floor else "")
        for name, std in measured["std"].items()
    ]


def detection_rows() -> list[str]:
    """The rows of docs/reproducibility.md's regression-detection table, from reports/regression_detection.json."""
    proof = detection()
    rows = []
    for mutation in proof["mutations"]:
        first = mutation["failed"][0] if mutation["caught"] else {"test": "", "message": ""}
        result = "caught" if mutation["caught"] else "MISSED"
        message = first["message"].replace("|", "\\|")
        rows.append(f"| {mutation['name']} | {mutation['change']} | {result} | `{first['test']}` | {message} |")
    return rows + [
        f"| clean run, {run['precision']} | none | {'passed' if run['passed'] else 'FALSE ALARM'} | | |"
        for run in proof["clean_runs"]
    ]


@pytest.mark.parametrize("row", [tolerance_summary(), *tolerance_rows(), *detection_rows()])
def test_the_reproducibility_doc_quotes_every_tolerance_and_detection(row):
    assert row in (ROOT / "docs" / "reproducibility.md").read_text()


def test_the_reproducibility_doc_shows_no_detection_that_the_report_lacks():
    shown = re.findall(r"^\| clean run, ", (ROOT / "docs" / "reproducibility.md").read_text(), re.MULTILINE)
    assert len(shown) == len(detection()["clean_runs"])


def photo_rows() -> list[str]:
    """The rows of docs/photos.md's table, formatted from reports/photo_benchmark.json."""
    photos = report("photo_benchmark.json")
    native = photos["native_accuracy"]
    rows = [f"| the same images at 28 × 28 (native) | {native:.3f} | | |"]
    for name, condition in photos["conditions"].items():
        rows.append(
            f"| {name} | {condition['accuracy']:.3f} | {100 * (condition['accuracy'] - native):+.1f} "
            f"± {100 * condition['standard_error']:.1f} points | {condition['ms_per_photo']:.1f} ms |"
        )
    tagging = photos["tagging"]
    rows.append(
        f"Largest drop {100 * photos['largest_drop']:.2f} points, mean drop {100 * photos['mean_drop']:.2f} "
        f"points, on {photos['images']:,} test images ({photos['processor']})"
    )
    rows.append(
        f"`fmnist.tag` tagged {tagging['28x28_png']['images_per_s']:,} images/s from a folder of 28 × 28 PNGs and "
        f"{tagging['1000px_jpeg']['images_per_s']:,} images/s from one of 1,000-pixel JPEGs"
    )
    return rows


def test_the_photos_doc_quotes_the_conversions_settings():
    text = " ".join((ROOT / "docs" / "photos.md").read_text().split())
    for setting in (
        f"Blur** (Gaussian) by {images.DENOISE} of a 28th",
        f"is {images.NOISE_SIGMAS} standard deviations",
        f"by more than {images.TRIM_DISTANCE / 255 * 100:.0f} % of the range",
        f"moves in by {images.EDGE_INSET} of a 28th",
        f"radius {images.SHARPEN_RADIUS} pixel at {images.SHARPEN_PERCENT} %",
    ):
        assert setting in text, setting


@pytest.mark.parametrize("row", photo_rows())
def test_the_photos_doc_quotes_the_reported_figures(row):
    assert row in " ".join((ROOT / "docs" / "photos.md").read_text().split(" \n"))


def precise_bn_sentence() -> str:
    """docs/training.md's sentence on the precise batch-norm trial, from reports/recipe_precise_bn.json."""
    trial = report("recipe_precise_bn.json")
    gain, runs = trial["gain"], trial["runs"]
    seeds = "; ".join(f"{seed}: {run['as_trained']:.4f} → {run['precise_bn']:.4f}" for seed, run in runs.items())
    verdict = "adopted" if trial["adopted"] else "not adopted"
    return (
        f"Validation accuracy as trained → with precise batch norm, seed by seed: {seeds}. Mean paired gain "
        f"{gain['mean']:+.4f} ± {gain['standard_error']:.4f} (standard error, {gain['seeds']} seeds): {verdict}."
    )


def test_the_training_doc_quotes_the_precise_batch_norm_trial():
    assert precise_bn_sentence() in training_doc_as_one_line()
