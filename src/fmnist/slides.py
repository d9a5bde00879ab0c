"""Build `Fashion_MNIST_Presentation.pptx` from `reports/` only: its figures and `metrics.json`.

Run `python -m fmnist.slides [--results DIR]` to rebuild the slides from existing results.
"""

import argparse
import json
from pathlib import Path

from PIL import Image
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import PP_ALIGN
from pptx.util import Emu, Inches, Pt

from fmnist import CLASS_NAMES

NAVY, ACCENT, INK, MUTED, PAPER = (
    RGBColor(0x1B, 0x2A, 0x41),
    RGBColor(0xE0, 0x7A, 0x1F),
    RGBColor(0x22, 0x22, 0x22),
    RGBColor(0x5F, 0x6B, 0x7A),
    RGBColor(0xF4, 0xF6, 0xF8),
)
FONT = "DejaVu Sans"
WIDTH, HEIGHT = Emu(12_192_000), Emu(6_858_000)  # 13.333 × 7.5 inches, the standard 16:9
TOP = Inches(1.35)  # below the title band
MARGIN, BODY_WIDTH = Inches(0.7), Inches(12)
BENCHMARK_2CONV = (  # Zalando's Fashion-MNIST benchmark, the two-convolution rows
    ("TensorFlow doc convnet (2 conv + pool)", 0.916),
    ("2 conv, < 100K parameters", 0.925),
    ("2 conv + pool + BatchNorm", 0.934),
    ("best 2-conv entry", 0.939),
)


class Deck:
    """A 16:9 presentation with one consistent look: title band, body text, pictures, tables, notes."""

    def __init__(self, figures: Path):
        self.figures = figures
        self.presentation = Presentation()
        self.presentation.slide_width, self.presentation.slide_height = WIDTH, HEIGHT

    def slide(self, title: str, notes: str):
        slide = self.presentation.slides.add_slide(self.presentation.slide_layouts[6])  # blank
        band = slide.shapes.add_shape(1, 0, 0, WIDTH, Inches(1.1))
        band.fill.solid()
        band.fill.fore_color.rgb = NAVY
        band.line.fill.background()
        self.text(slide, title, Inches(0.5), Inches(0.18), Inches(12.3), Inches(0.8), size=30, color=PAPER, bold=True)
        slide.name = title
        slide.notes_slide.notes_text_frame.text = notes
        return slide

    def text(self, slide, text, left, top, width, height, size=20, color=INK, bold=False, align=None):
        box = slide.shapes.add_textbox(left, top, width, height)
        frame = box.text_frame
        frame.word_wrap = True
        for number, line in enumerate(text.split("\n")):
            paragraph = frame.paragraphs[0] if number == 0 else frame.add_paragraph()
            paragraph.text = line
            paragraph.space_after = Pt(size * 0.5)
            if align:
                paragraph.alignment = align
            for run in paragraph.runs:
                run.font.size, run.font.bold, run.font.name = Pt(size), bold, FONT
                run.font.color.rgb = color
        return box

    def bullets(self, slide, items, left=MARGIN, top=TOP, width=BODY_WIDTH, size=22):
        return self.text(slide, "\n".join(f"•  {item}" for item in items), left, top, width, HEIGHT - top, size=size)

    def picture(self, slide, name, left, top, max_width, max_height):
        """Place `reports/figures/<name>` as large as fits the box, centred in it."""
        path = self.figures / name
        with Image.open(path) as image:
            aspect = image.width / image.height
        width = min(max_width, int(max_height * aspect))
        height = int(width / aspect)
        return slide.shapes.add_picture(
            str(path), left + (max_width - width) // 2, top + (max_height - height) // 2, Emu(width), Emu(height)
        )

    def table(self, slide, rows, left, top, width, column_widths, size=14, highlight_row=None):
        shape = slide.shapes.add_table(len(rows), len(rows[0]), left, top, width, Inches(0.4) * len(rows))
        table = shape.table
        for column, fraction in enumerate(column_widths):
            table.columns[column].width = int(width * fraction)
        for r, row in enumerate(rows):
            table.rows[r].height = Inches(0.4)
            for c, value in enumerate(row):
                cell = table.cell(r, c)
                cell.text = str(value)
                cell.fill.solid()
                cell.fill.fore_color.rgb = (
                    NAVY if r == 0 else (RGBColor(0xFC, 0xE9, 0xD6) if r == highlight_row else PAPER)
                )
                for paragraph in cell.text_frame.paragraphs:
                    paragraph.alignment = PP_ALIGN.LEFT if c == 0 else PP_ALIGN.RIGHT
                    for run in paragraph.runs:
                        run.font.size, run.font.name = Pt(size), FONT
                        run.font.bold = r == 0 or r == highlight_row
                        run.font.color.rgb = PAPER if r == 0 else INK
        return shape

    def save(self, path) -> Path:
        self.presentation.save(path)
        return Path(path)


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


def build(results_dir=".", output=None) -> Path:
    """Write the presentation for the results under `results_dir` and return its path."""
    results_dir = Path(results_dir)
    reports = results_dir / "reports"
    metrics = json.loads((reports / "metrics.json").read_text())
    deck = Deck(reports / "figures")
    accuracy = accuracy_text(metrics)
    body_left, body_width = Inches(0.6), Inches(12.1)

    slide = deck.slide(
        "Fashion-MNIST image classification",
        "Introduce the project: a small convolutional network that sorts photos of clothing into ten "
        f"categories. Every number in this deck comes from the notebook run; the headline is {accuracy} "
        "test accuracy.",
    )
    deck.text(
        slide,
        "A reproducible CNN, from notebook to real-time API",
        body_left,
        Inches(2.2),
        body_width,
        Inches(1),
        size=32,
        color=NAVY,
        bold=True,
    )
    deck.text(
        slide,
        f"Test accuracy {accuracy} on the 10,000 held-out images\n"
        f"{metrics['parameters']:,} parameters · {metrics['recipe']['epochs']} epochs · "
        f"{metrics['train_seconds'] / 60:.1f} min of training on 2 CPU cores\n"
        "Python · TensorFlow / Keras · NumPy · Matplotlib · Jupyter",
        body_left, Inches(3.9), body_width, Inches(2.5), size=22, color=MUTED,
    )  # fmt: skip

    slide = deck.slide(
        "The problem",
        "Online shops list thousands of new products a day. Tagging each photo with its category by hand is "
        "slow, costly and inconsistent, and a wrong category hides the product from the shoppers looking for it.",
    )
    deck.bullets(slide, [
        "Large e-commerce catalogues receive new product photos every day",
        "Sorting them into categories by hand is slow, costly and error-prone",
        "Wrong categories hurt search, filters and recommendations",
        "Needed: an automatic, accurate and fast image classifier",
    ])  # fmt: skip

    slide = deck.slide(
        "The solution",
        "A convolutional neural network learns the visual features of each category from labelled examples. "
        "It is small enough to train in minutes on a laptop and to answer in milliseconds.",
    )
    deck.bullets(slide, [
        "A convolutional neural network (CNN) classifies 28×28 grayscale images into 10 categories",
        "Workflow: load and preprocess → define the CNN → train → evaluate on the test set → visualise",
        "Reproducible: seeded, deterministic, verified data, re-executed as a regression test in CI",
        "Explainable (occlusion maps), searchable (similar items) and deployable (HTTP API)",
    ])  # fmt: skip

    slide = deck.slide(
        "The data: Fashion-MNIST",
        "Zalando Research's Fashion-MNIST: 60,000 training and 10,000 test images, 28 by 28 pixels, grayscale, "
        "ten balanced classes. We hold out 5,000 training images for validation.",
    )
    deck.picture(slide, "samples.png", Inches(0.3), TOP, Inches(7.4), HEIGHT - TOP - Inches(0.2))
    deck.bullets(slide, [
        "70,000 grayscale images, 28 × 28 pixels",
        "60,000 for training, 10,000 for testing",
        "10 balanced classes:\n     " + ", ".join(CLASS_NAMES),
        "Pixels scaled to [0, 1]; labels one-hot encoded",
    ], left=Inches(7.9), top=Inches(1.6), width=Inches(5.1), size=18)  # fmt: skip

    slide = deck.slide(
        "The model",
        "Two convolution blocks extract local patterns, then a dense layer combines them and a softmax gives "
        "the probability of each class. Batch normalisation, dropout and small random shifts keep it "
        "from overfitting. Adam optimiser, categorical cross-entropy loss.",
    )
    recipe = metrics["recipe"]
    rows = [("Layer", "Output shape", "Parameters")] + [
        (layer["name"], layer["output_shape"], f"{layer['parameters']:,}") for layer in metrics["architecture"]
    ]
    rows.append(("Total", "", f"{metrics['parameters']:,}"))
    deck.table(
        slide, rows, Inches(0.6), Inches(1.3), Inches(8.2), (0.45, 0.33, 0.22), size=12, highlight_row=len(rows) - 1
    )
    deck.bullets(slide, [
        "2 × (Conv2D → MaxPooling → BatchNorm → ReLU)",
        "Flatten → Dense (ReLU) → Dropout → Dense (softmax, 10)",
        f"Adam: peak learning rate {recipe['learning_rate']:g}, warm-up + cosine decay",
        f"Categorical cross-entropy, label smoothing {recipe['label_smoothing']:g}",
        f"Random shifts of up to {recipe['max_shift']} pixel during training only",
    ], left=Inches(9.1), top=Inches(1.5), width=Inches(4.0), size=16)  # fmt: skip

    bfloat16 = " (bfloat16 compute)" if metrics.get("training_precision") == "mixed_bfloat16" else ""
    slide = deck.slide(
        "Training",
        f"{recipe['epochs']} epochs in {metrics['train_seconds'] / 60:.1f} minutes on two CPU cores{bfloat16}. "
        "Training and validation accuracy, epoch by epoch: the learning rate warms up, then decays to zero.",
    )
    deck.picture(slide, "training_curves.png", Inches(0.4), TOP, Inches(12.5), Inches(4.4))
    deck.text(
        slide,
        f"{recipe['epochs']} epochs · batch {recipe['batch_size']} · {metrics['train_seconds'] / 60:.1f} min · "
        f"final validation accuracy {metrics['history']['val_accuracy'][-1] * 100:.2f} %\n"
        + speed_text(reports / "training_benchmark.json"),
        body_left, Inches(5.85), body_width, Inches(1.3), size=16, color=MUTED, align=PP_ALIGN.CENTER,
    )  # fmt: skip

    slide = deck.slide(
        "Results",
        f"On the 10,000 test images that training never saw, the model reaches {accuracy}. The table places it "
        "beside the two-convolution rows of Zalando's public benchmark.",
    )
    rows = [("Model", "Test accuracy")] + [(name, f"{value * 100:.1f} %") for name, value in BENCHMARK_2CONV]
    rows.append(("This project", accuracy))
    deck.table(slide, rows, Inches(0.8), Inches(1.6), Inches(7.5), (0.7, 0.3), size=18, highlight_row=len(rows) - 1)
    deck.text(
        slide,
        accuracy,
        Inches(8.8),
        Inches(2.0),
        Inches(4.2),
        Inches(1.2),
        size=54,
        color=ACCENT,
        bold=True,
        align=PP_ALIGN.CENTER,
    )
    deck.text(
        slide,
        f"test accuracy\ntest loss {metrics['test_loss']:.3f}",
        Inches(8.8), Inches(3.3), Inches(4.2), Inches(1.5), size=20, color=MUTED, align=PP_ALIGN.CENTER,
    )  # fmt: skip

    slide = deck.slide(
        "Where the model errs",
        "The confusion matrix shows which classes are mistaken for which. "
        + "; ".join(
            f"{c['classes'][0]} and {c['classes'][1]}: {c['images']} test images" for c in metrics["top_confusions"][:3]
        )
        + ". Shirts, T-shirts, pullovers and coats share shapes at 28 by 28 pixels.",
    )
    deck.picture(slide, "confusion_matrix.png", Inches(0.3), TOP, Inches(6.6), HEIGHT - TOP - Inches(0.15))
    deck.picture(slide, "per_class_scores.png", Inches(7.0), TOP, Inches(6.1), Inches(3.9))
    deck.text(
        slide,
        "Most confused:\n"
        + "\n".join(f"{c['classes'][0]} ↔ {c['classes'][1]}: {c['images']}" for c in metrics["top_confusions"][:3]),
        Inches(7.2), Inches(5.35), Inches(5.8), Inches(1.9), size=15, color=MUTED,
    )  # fmt: skip

    slide = deck.slide(
        "Sample predictions",
        "Predictions on test images with the model's confidence: blue when right, red when wrong. The right "
        "panel shows the most confident mistakes: several are debatable labels even for a person.",
    )
    deck.picture(slide, "predictions.png", Inches(0.2), TOP, Inches(6.5), HEIGHT - TOP - Inches(0.1))
    deck.picture(slide, "confident_mistakes.png", Inches(6.8), TOP, Inches(6.3), HEIGHT - TOP - Inches(0.1))

    explained = metrics["explanations"]
    drops, random_drop = explained["deletion_drop_10"], explained["random_garment_drop_10"]
    slide = deck.slide(
        "Explainability: which pixels the answer rests on",
        "Occlusion blanks each 2×2 patch and measures how much the predicted class's probability drops: red "
        f"marks the pixels the answer rests on. Blanking the 10 % it ranks highest cuts the probability by "
        f"{drops['occlusion']:.2f}, {drops['occlusion'] / random_drop:.1f}× as much as random garment pixels "
        f"(Grad-CAM: {drops['gradcam'] / random_drop:.1f}×). The maps show what the model relies on, not why.",
    )
    deck.picture(slide, "explanations.png", Inches(0.2), TOP, Inches(7.4), HEIGHT - TOP - Inches(0.1))
    deck.picture(slide, "deletion_curves.png", Inches(7.7), TOP, Inches(5.5), Inches(3.4))
    deck.text(
        slide,
        f"Blanking the 10 % top-ranked pixels cuts the probability by {drops['occlusion']:.2f} with occlusion: "
        f"{drops['occlusion'] / random_drop:.1f}× random garment pixels (Grad-CAM: "
        f"{drops['gradcam'] / random_drop:.1f}×; {explained['images']} test images).\n"
        "The maps show what the model relies on, not why.",
        Inches(7.8), TOP + Inches(3.5), Inches(5.3), Inches(1.9), size=15, color=MUTED,
    )  # fmt: skip

    similar = metrics["similar_items"]
    slide = deck.slide(
        "Similar items",
        f"The layer before the softmax gives each image a {similar['embedding_size']}-number embedding. Cosine "
        f"nearest neighbours in it find visually similar products: {similar['precision_at_k'] * 100:.1f} % of "
        f"the {similar['k']} nearest test items share the query's class. This is the seed of a recommender.",
    )
    deck.picture(slide, "similar_items.png", Inches(0.3), TOP, Inches(7.6), HEIGHT - TOP - Inches(0.15))
    deck.bullets(slide, [
        f"Each image becomes {similar['embedding_size']} numbers: the layer before the softmax",
        "Cosine similarity finds the nearest catalogue items",
        f"Mean precision@{similar['k']} over all {similar['catalogue_items']:,} test items: "
        f"{similar['precision_at_k'] * 100:.1f} % of neighbours share the query's class",
        "Served by the API: POST /similar",
    ], left=Inches(8.1), top=Inches(1.6), width=Inches(5.0), size=17)  # fmt: skip

    slide = deck.slide(
        "Future scope",
        "Next steps from the original plan: harder, higher-resolution data; explanations in the product tools; "
        "the API in front of a real catalogue; and the embeddings feeding a recommendation engine.",
    )
    deck.bullets(slide, [
        "Train on richer, higher-resolution product photos (colour, several views)",
        "Explanations (POST /explain) in the merchandising tools, to review doubtful tags",
        "The real-time API behind the shop and mobile apps (TF Serving or uvicorn workers)",
        "Feed the similar-item embeddings into the product recommendation engine",
    ])  # fmt: skip

    return deck.save(Path(output) if output else results_dir / "Fashion_MNIST_Presentation.pptx")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=".", help="folder holding reports/ (default: the current folder)")
    parser.add_argument("--output", help="where to write the .pptx (default: RESULTS/Fashion_MNIST_Presentation.pptx)")
    arguments = parser.parse_args(argv)
    print(f"wrote {build(arguments.results, arguments.output)}")


if __name__ == "__main__":
    main()
