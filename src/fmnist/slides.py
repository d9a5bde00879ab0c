"""Build `Fashion_MNIST_Presentation.pptx` from `reports/` only: its figures and `metrics.json`.

Each slide is data (`deck.Slide`: title, notes, bullets, figures, a table, a headline), made from the reports
by `slides_for`; `deck.render` lays one out. Run `python -m fmnist.slides [--results DIR]` to rebuild the slides.
"""

import argparse
import json
import statistics
from pathlib import Path

from fmnist import CLASS_NAMES, deck, zalando_benchmark


def accuracy_text(metrics: dict) -> str:
    """The test accuracy as the slides print it, e.g. `94.12 %`."""
    return f"{metrics['test_accuracy'] * 100:.2f} %"


def optional_report(path: Path) -> dict:
    """A report written by a benchmark (reports/training_benchmark.json, regression_tolerances.json), or {} before
    that benchmark has run."""
    return json.loads(path.read_text()) if path.exists() else {}


def seed_accuracies(tolerances: dict, precision="mixed_bfloat16") -> dict[int, float]:
    """The committed recipe's test accuracy by seed, in `precision`, over the runs that the regression tolerances
    (reports/regression_tolerances.json, parsed) were measured from."""
    return {run["seed"]: run["test_accuracy"] for run in tolerances["runs"] if run["precision"] == precision}


def speed_text(benchmark: dict) -> str:
    """How much faster this recipe trains than the previous one, from the training benchmark, or "" before it
    has measured it."""
    speed = benchmark.get("time_to_accuracy")
    if not speed:
        return ""
    return (
        f"Before the mirror and levels: {speed['ratio']:.1f}× faster to train than the previous 60-epoch recipe "
        "(same machine, one benchmark run)"
    )


def story_slides(metrics: dict) -> list[deck.Slide]:
    """Title, problem, solution and data: the why and the what."""
    return [
        title_slide(metrics),
        deck.Slide(
            "The problem",
            "Online shops list thousands of new products a day; a wrong category hides a product from the "
            "shoppers looking for it.",
            bullets=[
                "Large e-commerce catalogues receive new product photos every day",
                "Sorting them into categories by hand is slow, costly and error-prone",
                "Wrong categories hurt search, filters and recommendations",
                "Needed: an automatic, accurate and fast classifier whose confidence can be trusted",
            ],
        ),
        deck.Slide(
            "The solution",
            "A convolutional neural network learns the visual features of each category from labelled examples. "
            "It trains in minutes on a laptop and answers in milliseconds.",
            bullets=[
                "A convolutional neural network (CNN) classifies 28×28 grayscale images into 10 categories",
                "Workflow: load and preprocess → define the CNN → train → evaluate on the test set → visualise",
                "Reproducible: seeded, deterministic, verified data, re-executed as a regression test in CI",
                "Calibrated, explainable (occlusion maps), searchable (similar items), deployable (HTTP API)",
            ],
        ),
        data_slide(metrics),
    ]


def title_slide(metrics: dict) -> deck.Slide:
    """The project in one line, with the run's headline numbers."""
    accuracy, recipe = accuracy_text(metrics), metrics["recipe"]
    return deck.Slide(
        "Fashion-MNIST image classification",
        "Introduce the project: a small convolutional network that sorts photos of clothing into ten "
        "categories. Every number in this deck comes from the notebook run.",
        headline="A reproducible CNN, from notebook to real-time API",
        caption=f"Test accuracy {accuracy} on the 10,000 held-out images\n{metrics['parameters']:,} parameters · "
        f"{recipe['epochs']} epochs · {metrics['train_seconds'] / 60:.1f} min of training on a CPU\n"
        "Python · TensorFlow / Keras · NumPy · Matplotlib · Jupyter",
    )


def data_slide(metrics: dict) -> deck.Slide:
    """The dataset, its split and sample images of each class."""
    held_out = metrics["recipe"].get("validation_size", 0)
    return deck.Slide(
        "The data: Fashion-MNIST",
        f"Zalando Research's Fashion-MNIST, ten balanced classes. {held_out:,} training images are held out "
        "for validation: the checks during training, the calibration and the review thresholds.",
        figures=["slide_samples.png"],
        bullets=[
            "70,000 grayscale images, 28 × 28 pixels",
            f"60,000 for training ({held_out:,} of them held out for validation), 10,000 for testing",
            "10 balanced classes:\n     " + ", ".join(CLASS_NAMES),
            "Pixels scaled to [0, 1]; labels one-hot encoded",
        ],
    )


def model_slides(metrics: dict, benchmark: dict, seeds: list[float]) -> list[deck.Slide]:
    """The network, its training and its headline result."""
    recipe = metrics["recipe"]
    layers = [(layer["name"], layer["output_shape"], f"{layer['parameters']:,}") for layer in metrics["architecture"]]
    bfloat16 = " The layers compute in bfloat16." if metrics.get("training_precision") == "mixed_bfloat16" else ""
    return [
        deck.Slide(
            "The model",
            "Two convolution blocks extract local patterns, then a dense layer combines them and a softmax gives "
            "the probability of each class. Batch normalisation and a random change of each training photo keep "
            "it from overfitting. When it answers, it looks at the photo and at its mirror, and averages.",
            table=[("Layer", "Output shape", "Parameters"), *layers, ("Total", "", f"{metrics['parameters']:,}")],
            bullets=[
                "Each photo and its mirror; each garment framed (cropped to its outline, enlarged to fill the "
                "image), its levels standardised (LayerNormalization), then 2 × (Conv2D → MaxPooling → BatchNorm → "
                "ReLU)",
                "Flatten → Dense (ReLU) → mean over the photo and its mirror → Dense (softmax, 10)",
                f"Adam: peak learning rate {recipe['learning_rate']:g}, warm-up + cosine decay",
                f"Categorical cross-entropy, label smoothing {recipe['label_smoothing']:g}",
                "Augmentation, training only: " + ", ".join(recipe["augmentation"]),
            ],
        ),
        deck.Slide(
            "Training",
            "Training and validation accuracy and loss, epoch by epoch: the learning rate warms up, then decays to "
            "zero. Early on, the validation figures look better than the training ones, which average the whole "
            f"epoch with augmentation on.{bfloat16}",
            figures=["training_curves.png"],
            caption=f"{recipe['epochs']} epochs · batch {recipe['batch_size']} · "
            f"{metrics['train_seconds'] / 60:.1f} min of training · final validation accuracy "
            f"{metrics['history']['val_accuracy'][-1] * 100:.2f} %\n" + speed_text(benchmark),
        ),
        results_slide(metrics, seeds),
    ]


def benchmark_row(entry: zalando_benchmark.Entry) -> tuple[str, str]:
    """One two-convolution row of Zalando's benchmark, at the figure its author reports, and the one the table
    lists beside it where the two differ."""
    listed = f"\nlisted: {entry.listed * 100:.1f} %" if entry.corrected else ""
    return entry.model, f"{entry.reported * 100:.1f} %{listed}"


def results_slide(metrics: dict, seeds: list[float]) -> deck.Slide:
    """The test accuracy beside the two-convolution rows of Zalando's benchmark, each at its author's figure; the
    lead is claimed from the recipe's mean over `seeds` where there are some."""
    accuracy = accuracy_text(metrics)
    compared = statistics.mean(seeds) if seeds else metrics["test_accuracy"]
    where = "above every" if zalando_benchmark.above_every_entry(compared) else "not above every"
    mistakes = " and ".join(
        f"{entry.model} is listed at {entry.listed * 100:.1f} %, yet its author reports {entry.author * 100:.2f} % "
        f"(issues {', '.join(f'#{number}' for number in entry.issues)} of zalandoresearch/fashion-mnist)"
        for entry in zalando_benchmark.TWO_CONVOLUTIONS
        if entry.corrected
    )
    mean = f"the recipe's mean over {len(seeds)} seeds {compared * 100:.2f} %, " if seeds else ""
    return deck.Slide(
        "Results",
        "On the 10,000 test images that training never saw, beside the two-convolution rows of Zalando's "
        "public benchmark, each at the figure its author reports."
        + (f" One row is wrong: {mistakes}." * bool(mistakes)),
        table=[("Model", "Test accuracy"), *map(benchmark_row, zalando_benchmark.TWO_CONVOLUTIONS)]
        + [("This project", accuracy)],
        headline=accuracy,
        caption=f"test accuracy\n{mean}{where} two-convolution entry\n"
        + (
            f"negative log-likelihood {metrics['calibration']['test_nll_after']:.3f}: low when the right class "
            "gets a high probability"
            if "calibration" in metrics
            else f"test loss {metrics['test_loss']:.3f}"
        ),
    )


def error_slides(metrics: dict) -> list[deck.Slide]:
    """Where the model errs, and sample predictions."""
    confused = metrics["top_confusions"][:3]
    per_class = metrics["per_class"]
    hardest = min(per_class, key=lambda name: per_class[name]["f1-score"])
    return [
        deck.Slide(
            "Where the model errs",
            "Shirts, T-shirts, pullovers and coats share shapes at 28 by 28 pixels: the confusion matrix shows "
            "where each true class went.",
            figures=["confusion_matrix.png"],
            heading="Most confused pairs (test images)",
            bullets=[f"{c['classes'][0]} ↔ {c['classes'][1]}: {c['images']}" for c in confused],
        ),
        deck.Slide(
            "Scores per class",
            "Precision: of the photos tagged with a class, the share that belong to it. Recall: of the photos "
            "of a class, the share tagged with it. F1 combines the two.",
            figures=["per_class_scores.png"],
            caption=f"Hardest class: {hardest}, F1 {per_class[hardest]['f1-score']:.2f}",
        ),
        deck.Slide(
            "Sample predictions",
            "Blue when right, red when wrong, with the model's confidence. The right panel shows the "
            "most confident mistakes: several are debatable labels even for a person.",
            figures=["predictions.png", "confident_mistakes.png"],
        ),
    ]


def insight_slides(metrics: dict) -> list[deck.Slide]:
    """Errors, confidences, explanations, similar items and what comes next."""
    explained, similar = metrics["explanations"], metrics["similar_items"]
    drops, random_drop = explained["deletion_drop_10"], explained["random_garment_drop_10"]
    slides = error_slides(metrics) + ([review_slide(metrics)] if "calibration" in metrics else [])
    return slides + [
        deck.Slide(
            "Explainability: which pixels the answer rests on",
            "Occlusion blanks each 2×2 patch and measures how much the predicted class's probability drops; red "
            "marks the pixels the answer rests on. The maps show what the model relies on, not why. Its "
            "percentages are calibrated, so higher than on the predictions slide: label smoothing trained the "
            "network to aim at 91 % for the true class, and the temperature undoes that.",
            figures=["explanations.png", "deletion_curves.png"],
            caption=f"Blanking the 10 % top-ranked pixels cuts the probability by {drops['occlusion']:.2f} with "
            f"occlusion: {drops['occlusion'] / random_drop:.1f}× random garment pixels (Grad-CAM: "
            f"{drops['gradcam'] / random_drop:.1f}×; {explained['images']} test images).",
        ),
        deck.Slide(
            "Similar items",
            "Cosine nearest neighbours in the embedding find visually similar products: the seed of a recommender.",
            figures=["slide_similar_items.png"],
            caption=f"Each image becomes {similar['embedding_size']} numbers, the layer before the softmax; cosine "
            "similarity finds the nearest catalogue items. Served by the API: POST /similar\n"
            f"Mean precision@{similar['k']} over all {similar['catalogue_items']:,} test items: "
            f"{similar['precision_at_k'] * 100:.1f} % of neighbours share the query's class",
        ),
        deck.Slide(
            "Future scope",
            "Next steps from the original plan: richer data, explanations in the product tools, the API in "
            "front of a real catalogue, and the embeddings feeding a recommendation engine.",
            bullets=[
                "Train on richer, higher-resolution product photos (colour, several views)",
                "Explanations (POST /explain) in the merchandising tools, beside the tags sent for review",
                "The real-time API behind the shop and mobile apps (TF Serving or uvicorn workers)",
                "Feed the similar-item embeddings into the product recommendation engine",
            ],
        ),
    ]


def review_slide(metrics: dict) -> deck.Slide:
    """Calibrated confidences and the auto-tag-or-review operating points."""
    calibration, points = metrics["calibration"], metrics["auto_tagging"]
    return deck.Slide(
        "Auto-tag or review",
        f"A temperature of {calibration['temperature']:.2f}, fitted on the validation split as drawn and once "
        "augmented, makes the confidences "
        "honest; the margin between the two most probable classes then decides which tags need a person, and "
        "a photo whose garment the frame cuts, or a grainy one, goes to a person whatever its margin. The "
        "thresholds come from the validation split; the figures are the test set's.",
        figures=["reliability.png", "risk_coverage.png"],
        caption=f"Calibration error {calibration['test_ece_before']:.3f} → {calibration['test_ece_after']:.3f}: "
        "the gap between confidence and accuracy, before → after\n" + "\n".join(map(target_text, points.items())),
    )


def target_text(target_and_point) -> str:
    """How many products one target accuracy tags alone on the test set, how many of them right, and whether
    that reaches the target."""
    target, point = target_and_point
    text = f"Target {float(target) * 100:.1f} %: {point['coverage'] * 100:.1f} % tagged alone"
    if point["accuracy"] is None:
        return text
    verdict = "" if point["accuracy"] >= float(target) else " (short of the target)"
    return text + f", {point['accuracy'] * 100:.2f} % of them right{verdict}"


def slides_for(metrics: dict, reports: Path) -> list[deck.Slide]:
    """Every slide of the deck, in order, from the run's metrics, the training benchmark and the seeds of the
    regression tolerances, in the folder `reports`."""
    benchmark, tolerances = (
        optional_report(reports / name) for name in ("training_benchmark.json", "regression_tolerances.json")
    )
    seeds = list(seed_accuracies(tolerances).values()) if tolerances else []
    return story_slides(metrics) + model_slides(metrics, benchmark, seeds) + insight_slides(metrics)


def build(results_dir=".", output=None) -> Path:
    """Write the presentation for the results under `results_dir` and return its path."""
    reports = Path(results_dir) / "reports"
    metrics = json.loads((reports / "metrics.json").read_text())
    presentation = deck.Deck(reports / "figures")
    for spec in slides_for(metrics, reports):
        deck.render(presentation, spec)
    return presentation.save(Path(output) if output else Path(results_dir) / "Fashion_MNIST_Presentation.pptx")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=".", help="folder holding reports/ (default: the current folder)")
    parser.add_argument("--output", help="where to write the .pptx (default: RESULTS/Fashion_MNIST_Presentation.pptx)")
    arguments = parser.parse_args(argv)
    print(f"wrote {build(arguments.results, arguments.output)}")


if __name__ == "__main__":
    main()
