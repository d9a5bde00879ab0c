"""Build `Fashion_MNIST_Presentation.pptx` from `reports/` only: its figures and `metrics.json`.

Each slide is data (`deck.Slide`: title, notes, bullets, figures, a table, a headline), made from the reports
by `slides_for`; `deck.render` lays one out. Run `python -m fmnist.slides [--results DIR]` to rebuild the slides.
"""

import argparse
import json
from pathlib import Path

from fmnist import CLASS_NAMES, deck

BENCHMARK_2CONV = (  # Zalando's Fashion-MNIST benchmark, the two-convolution rows
    ("TensorFlow doc convnet (2 conv + pool)", 0.916),
    ("2 conv, < 100K parameters", 0.925),
    ("2 conv + pool + BatchNorm", 0.934),
    ("best 2-conv entry", 0.939),
)


def accuracy_text(metrics: dict) -> str:
    """The test accuracy as the slides print it, e.g. `94.12 %`."""
    return f"{metrics['test_accuracy'] * 100:.2f} %"


def speed_text(benchmark_path: Path) -> str:
    """Time to 94 % against the previous recipe, from the training benchmark, or "" before it has run."""
    if not benchmark_path.exists():
        return ""
    benchmark = json.loads(benchmark_path.read_text())
    speed, seeds = benchmark.get("time_to_accuracy"), benchmark.get("accuracy_seeds")
    if not speed:
        return ""
    mean = f", mean over {len(seeds['values'])} seeds {seeds['mean'] * 100:.2f} %" if seeds else ""
    return (
        f"Previous 60-epoch recipe: {speed['previous_recipe_seconds'] / 60:.1f} min; this one: "
        f"{speed['project_seconds'] / 60:.1f} min ({speed['ratio']:.1f}× faster, same machine, one benchmark run"
        f"{mean}). Anchor: airbench, 94 % on CIFAR-10 in 3.29 s on an A100, with short schedules and light augmentation"
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


def model_slides(metrics: dict, benchmark_path: Path) -> list[deck.Slide]:
    """The network, its training and its headline result."""
    recipe = metrics["recipe"]
    layers = [(layer["name"], layer["output_shape"], f"{layer['parameters']:,}") for layer in metrics["architecture"]]
    bfloat16 = " in bfloat16" if metrics.get("training_precision") == "mixed_bfloat16" else ""
    return [
        deck.Slide(
            "The model",
            "Two convolution blocks extract local patterns, then a dense layer combines them and a softmax gives "
            "the probability of each class. Batch normalisation, dropout and a random change of each training "
            "photo keep it from overfitting.",
            table=[("Layer", "Output shape", "Parameters"), *layers, ("Total", "", f"{metrics['parameters']:,}")],
            bullets=[
                "2 × (Conv2D → MaxPooling → BatchNorm → ReLU)",
                "Flatten → Dense (ReLU) → Dropout → Dense (softmax, 10)",
                f"Adam: peak learning rate {recipe['learning_rate']:g}, warm-up + cosine decay",
                f"Categorical cross-entropy, label smoothing {recipe['label_smoothing']:g}",
                "Augmentation, training only: " + ", ".join(recipe["augmentation"]),
            ],
        ),
        deck.Slide(
            "Training",
            f"Training and validation accuracy, epoch by epoch, computed{bfloat16}: the learning rate warms up, "
            "then decays to zero.",
            figures=["training_curves.png"],
            caption=f"{recipe['epochs']} epochs · batch {recipe['batch_size']} · "
            f"{metrics['train_seconds'] / 60:.1f} min · final validation accuracy "
            f"{metrics['history']['val_accuracy'][-1] * 100:.2f} %\n" + speed_text(benchmark_path),
        ),
        results_slide(metrics),
    ]


def results_slide(metrics: dict) -> deck.Slide:
    """The test accuracy beside the two-convolution rows of Zalando's benchmark."""
    accuracy = accuracy_text(metrics)
    return deck.Slide(
        "Results",
        "On the 10,000 test images that training never saw, beside the two-convolution rows of Zalando's "
        "public benchmark.",
        table=[("Model", "Test accuracy")]
        + [(name, f"{value * 100:.1f} %") for name, value in BENCHMARK_2CONV]
        + [("This project", accuracy)],
        headline=accuracy,
        caption="test accuracy\n"
        + (
            f"negative log-likelihood {metrics['calibration']['test_nll_after']:.3f} (calibrated)"
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
            bullets=["Most confused pairs (test images):"]
            + [f"{c['classes'][0]} ↔ {c['classes'][1]}: {c['images']}" for c in confused],
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
            "marks the pixels the answer rests on. The maps show what the model relies on, not why.",
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
        f"A temperature of {calibration['temperature']:.2f}, fitted on the validation split, makes the confidences "
        "honest; the margin between the two most probable classes then decides which tags need a person. The "
        "thresholds come from the validation split; the figures are the test set's.",
        figures=["reliability.png", "risk_coverage.png"],
        caption=f"Calibration error {calibration['test_ece_before']:.3f} → {calibration['test_ece_after']:.3f}\n"
        + "\n".join(
            f"Target {float(target) * 100:.1f} %: {point['coverage'] * 100:.1f} % tagged alone"
            + (f", {point['accuracy'] * 100:.2f} % of them right" if point["accuracy"] is not None else "")
            for target, point in points.items()
        ),
    )


def slides_for(metrics: dict, benchmark_path: Path) -> list[deck.Slide]:
    """Every slide of the deck, in order, from the run's metrics and the training benchmark."""
    return story_slides(metrics) + model_slides(metrics, benchmark_path) + insight_slides(metrics)


def build(results_dir=".", output=None) -> Path:
    """Write the presentation for the results under `results_dir` and return its path."""
    reports = Path(results_dir) / "reports"
    metrics = json.loads((reports / "metrics.json").read_text())
    presentation = deck.Deck(reports / "figures")
    for spec in slides_for(metrics, reports / "training_benchmark.json"):
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
