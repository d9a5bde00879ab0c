"""Build `Fashion_MNIST_Presentation.pptx` from `reports/` only: its figures and `metrics.json`.

Each slide is data (`Slide`: title, notes, bullets, figures, a table, a headline), made from the reports by
`slides_for`; `render` lays one out. Run `python -m fmnist.slides [--results DIR]` to rebuild the slides.
"""

import argparse
import dataclasses
import json
from pathlib import Path

from PIL import Image
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.enum.text import PP_ALIGN
from pptx.util import Emu, Inches, Pt

from fmnist import CLASS_NAMES, plots

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
        """Place `reports/figures/<name>` as large as fits the box, centred in it, and never so small that its
        smallest text (the PNG's metadata, from `plots.save`) falls under `plots.SMALLEST_FONT` points."""
        path = self.figures / name
        with Image.open(path) as image:
            aspect = image.width / image.height
            smallest = float(image.info.get("Smallest font (pt)", plots.SMALLEST_FONT))
            readable = Inches(image.width / plots.DPI * plots.SMALLEST_FONT / smallest)
        width = max(min(max_width, int(max_height * aspect)), int(readable))
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


@dataclasses.dataclass
class Slide:
    """What one slide says; `render` decides where each part goes."""

    title: str
    notes: str
    bullets: list[str] = dataclasses.field(default_factory=list)
    figures: list[str] = dataclasses.field(default_factory=list)  # names in reports/figures, one or two
    table: list[tuple] = dataclasses.field(default_factory=list)  # the first row is the header
    headline: str = ""  # one big figure, with `caption` below it
    caption: str = ""


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


def story_slides(metrics: dict) -> list[Slide]:
    """Title, problem, solution and data: the why and the what."""
    accuracy, recipe = accuracy_text(metrics), metrics["recipe"]
    held_out = recipe.get("validation_size", 0)
    return [
        Slide(
            "Fashion-MNIST image classification",
            "Introduce the project: a small convolutional network that sorts photos of clothing into ten "
            "categories. Every number in this deck comes from the notebook run.",
            headline="A reproducible CNN, from notebook to real-time API",
            caption=f"Test accuracy {accuracy} on the 10,000 held-out images\n{metrics['parameters']:,} parameters · "
            f"{recipe['epochs']} epochs · {metrics['train_seconds'] / 60:.1f} min of training on a CPU\n"
            "Python · TensorFlow / Keras · NumPy · Matplotlib · Jupyter",
        ),
        Slide(
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
        Slide(
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
        Slide(
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
        ),
    ]


def model_slides(metrics: dict, benchmark_path: Path) -> list[Slide]:
    """The network, its training and its headline result."""
    accuracy, recipe = accuracy_text(metrics), metrics["recipe"]
    layers = [(layer["name"], layer["output_shape"], f"{layer['parameters']:,}") for layer in metrics["architecture"]]
    bfloat16 = " in bfloat16" if metrics.get("training_precision") == "mixed_bfloat16" else ""
    return [
        Slide(
            "The model",
            "Two convolution blocks extract local patterns, then a dense layer combines them and a softmax gives "
            "the probability of each class. Batch normalisation, dropout and small random shifts keep it "
            "from overfitting.",
            table=[("Layer", "Output shape", "Parameters"), *layers, ("Total", "", f"{metrics['parameters']:,}")],
            bullets=[
                "2 × (Conv2D → MaxPooling → BatchNorm → ReLU)",
                "Flatten → Dense (ReLU) → Dropout → Dense (softmax, 10)",
                f"Adam: peak learning rate {recipe['learning_rate']:g}, warm-up + cosine decay",
                f"Categorical cross-entropy, label smoothing {recipe['label_smoothing']:g}",
                f"Random shifts of up to {recipe['max_shift']} pixel during training only",
            ],
        ),
        Slide(
            "Training",
            f"Training and validation accuracy, epoch by epoch, computed{bfloat16}: the learning rate warms up, "
            "then decays to zero.",
            figures=["training_curves.png"],
            caption=f"{recipe['epochs']} epochs · batch {recipe['batch_size']} · "
            f"{metrics['train_seconds'] / 60:.1f} min · final validation accuracy "
            f"{metrics['history']['val_accuracy'][-1] * 100:.2f} %\n" + speed_text(benchmark_path),
        ),
        Slide(
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
        ),
    ]


def error_slides(metrics: dict) -> list[Slide]:
    """Where the model errs, and sample predictions."""
    confused = metrics["top_confusions"][:3]
    per_class = metrics["per_class"]
    hardest = min(per_class, key=lambda name: per_class[name]["f1-score"])
    return [
        Slide(
            "Where the model errs",
            "Shirts, T-shirts, pullovers and coats share shapes at 28 by 28 pixels: the confusion matrix shows "
            "where each true class went.",
            figures=["confusion_matrix.png"],
            bullets=["Most confused pairs (test images):"]
            + [f"{c['classes'][0]} ↔ {c['classes'][1]}: {c['images']}" for c in confused],
        ),
        Slide(
            "Scores per class",
            "Precision: of the photos tagged with a class, the share that belong to it. Recall: of the photos "
            "of a class, the share tagged with it. F1 combines the two.",
            figures=["per_class_scores.png"],
            caption=f"Hardest class: {hardest}, F1 {per_class[hardest]['f1-score']:.2f}",
        ),
        Slide(
            "Sample predictions",
            "Blue when right, red when wrong, with the model's confidence. The right panel shows the "
            "most confident mistakes: several are debatable labels even for a person.",
            figures=["predictions.png", "confident_mistakes.png"],
        ),
    ]


def insight_slides(metrics: dict) -> list[Slide]:
    """Errors, confidences, explanations, similar items and what comes next."""
    explained, similar = metrics["explanations"], metrics["similar_items"]
    drops, random_drop = explained["deletion_drop_10"], explained["random_garment_drop_10"]
    slides = error_slides(metrics) + ([review_slide(metrics)] if "calibration" in metrics else [])
    return slides + [
        Slide(
            "Explainability: which pixels the answer rests on",
            "Occlusion blanks each 2×2 patch and measures how much the predicted class's probability drops; red "
            "marks the pixels the answer rests on. The maps show what the model relies on, not why.",
            figures=["explanations.png", "deletion_curves.png"],
            caption=f"Blanking the 10 % top-ranked pixels cuts the probability by {drops['occlusion']:.2f} with "
            f"occlusion: {drops['occlusion'] / random_drop:.1f}× random garment pixels (Grad-CAM: "
            f"{drops['gradcam'] / random_drop:.1f}×; {explained['images']} test images).",
        ),
        Slide(
            "Similar items",
            "Cosine nearest neighbours in the embedding find visually similar products: the seed of a recommender.",
            figures=["slide_similar_items.png"],
            caption=f"Each image becomes {similar['embedding_size']} numbers, the layer before the softmax; cosine "
            "similarity finds the nearest catalogue items. Served by the API: POST /similar\n"
            f"Mean precision@{similar['k']} over all {similar['catalogue_items']:,} test items: "
            f"{similar['precision_at_k'] * 100:.1f} % of neighbours share the query's class",
        ),
        Slide(
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


def review_slide(metrics: dict) -> Slide:
    """Calibrated confidences and the auto-tag-or-review operating points."""
    calibration, points = metrics["calibration"], metrics["auto_tagging"]
    return Slide(
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


def slides_for(metrics: dict, benchmark_path: Path) -> list[Slide]:
    """Every slide of the deck, in order, from the run's metrics and the training benchmark."""
    return story_slides(metrics) + model_slides(metrics, benchmark_path) + insight_slides(metrics)


def place_visuals(deck: Deck, slide, spec: Slide) -> int:
    """Put the slide's table or figures on it; return the left edge of the text beside them."""
    body = HEIGHT - TOP - Inches(0.15)
    if spec.table:
        widths = (0.45, 0.33, 0.22) if len(spec.table[0]) == 3 else (0.7, 0.3)
        size = 14 if len(spec.table) > 8 else 18
        deck.table(slide, spec.table, Inches(0.6), TOP, Inches(8.2), widths, size, highlight_row=len(spec.table) - 1)
        return Inches(9.0)
    if len(spec.figures) == 2:
        deck.picture(slide, spec.figures[0], Inches(0.2), TOP, Inches(6.6), body)
        deck.picture(slide, spec.figures[1], Inches(6.9), TOP, Inches(6.2), body - Inches(2.0) * bool(spec.caption))
        return Inches(7.0)
    if spec.figures and spec.bullets:
        deck.picture(slide, spec.figures[0], Inches(0.3), TOP, Inches(7.4), body)
        return Inches(7.9)
    if spec.figures:
        deck.picture(slide, spec.figures[0], Inches(0.4), TOP, Inches(12.5), Inches(4.4))
    return MARGIN


def place_text(deck: Deck, slide, spec: Slide, left: int) -> None:
    """Put the bullets, the headline and the caption in the column that starts at `left`."""
    width, wide = WIDTH - left - Inches(0.3), left == MARGIN
    if spec.bullets:
        deck.bullets(slide, spec.bullets, left=left, top=TOP + Inches(0.2), width=width, size=22 if wide else 16)
    top = Inches(2.0)
    if spec.headline:
        deck.text(
            slide, spec.headline, left, top, width, Inches(1.2), 32 if wide else 54, NAVY if wide else ACCENT, True
        )
        top += Inches(1.6)
    elif spec.figures:
        top = HEIGHT - Inches(2.1) if len(spec.figures) == 2 else Inches(5.85)
    if spec.caption:
        deck.text(slide, spec.caption, left, top, width, HEIGHT - top, size=15 if spec.figures else 20, color=MUTED)


def render(deck: Deck, spec: Slide) -> None:
    """Add one slide to `deck`: visuals on the left, text beside them or below."""
    slide = deck.slide(spec.title, spec.notes)
    place_text(deck, slide, spec, place_visuals(deck, slide, spec))


def build(results_dir=".", output=None) -> Path:
    """Write the presentation for the results under `results_dir` and return its path."""
    reports = Path(results_dir) / "reports"
    metrics = json.loads((reports / "metrics.json").read_text())
    deck = Deck(reports / "figures")
    for spec in slides_for(metrics, reports / "training_benchmark.json"):
        render(deck, spec)
    return deck.save(Path(output) if output else Path(results_dir) / "Fashion_MNIST_Presentation.pptx")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=".", help="folder holding reports/ (default: the current folder)")
    parser.add_argument("--output", help="where to write the .pptx (default: RESULTS/Fashion_MNIST_Presentation.pptx)")
    arguments = parser.parse_args(argv)
    print(f"wrote {build(arguments.results, arguments.output)}")


if __name__ == "__main__":
    main()
