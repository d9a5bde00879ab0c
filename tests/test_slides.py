import hashlib
import io
import json
import re
import statistics
import subprocess
from pathlib import Path

import matplotlib.pyplot as plt
import pytest
from PIL import Image
from pptx import Presentation
from pptx.enum.shapes import MSO_SHAPE_TYPE
from pptx.util import Inches

from fmnist import CLASS_NAMES, deck, plots, slides, zalando_benchmark

from .helpers import require

ROOT = Path(__file__).resolve().parent.parent
TITLES = [
    "Fashion-MNIST image classification",
    "The problem",
    "The solution",
    "The data: Fashion-MNIST",
    "The model",
    "Training",
    "Results",
    "Where the model errs",
    "Scores per class",
    "Sample predictions",
    "Auto-tag or review",
    "Explainability: which pixels the answer rests on",
    "Similar items",
    "Future scope",
]
FIGURES = ["slide_samples", "training_curves", "confusion_matrix", "per_class_scores", "predictions"]
FIGURES += ["confident_mistakes", "reliability", "risk_coverage", "explanations", "deletion_curves"]
FIGURES += ["slide_similar_items"]


def slide_texts(slide):
    return " ".join(shape.text_frame.text for shape in slide.shapes if shape.has_text_frame) + " ".join(
        cell.text for shape in slide.shapes if shape.has_table for row in shape.table.rows for cell in row.cells
    )


def check_deck(path: Path, results: Path):
    metrics = json.loads((results / "reports/metrics.json").read_text())
    deck = Presentation(path)
    assert [slide.name for slide in deck.slides] == TITLES
    titles = [slide.shapes.title for slide in deck.slides]  # the layout's title placeholder, or None
    assert [title.text if title is not None else None for title in titles] == TITLES
    assert deck.slide_width * 9 == deck.slide_height * 16
    figure_hashes = {hashlib.sha1(p.read_bytes()).hexdigest() for p in (results / "reports/figures").glob("*.png")}
    pictures = [shape for slide in deck.slides for shape in slide.shapes if shape.shape_type == 13]
    assert len(pictures) == len(FIGURES)
    assert {picture.image.sha1 for picture in pictures} <= figure_hashes
    results_slide = slide_texts(deck.slides[TITLES.index("Results")])
    assert f"{metrics['test_accuracy'] * 100:.2f} %" in results_slide
    review = slide_texts(deck.slides[TITLES.index("Auto-tag or review")])
    for target, point in metrics["auto_tagging"].items():
        assert f"Target {float(target) * 100:.1f} %: {point['coverage'] * 100:.1f} % tagged alone" in review
    sentences = [
        sentence.strip()
        for slide in deck.slides
        for text in (slide_texts(slide), slide.notes_slide.notes_text_frame.text)
        for sentence in re.split(r"(?<=[.:])\s+|\n", text)
        if len(sentence.strip()) > 30
    ]
    assert len(sentences) == len(set(sentences)), "a sentence is repeated in the deck"
    for slide in deck.slides:
        assert slide.has_notes_slide and len(slide.notes_slide.notes_text_frame.text) > 40


@pytest.fixture
def synthetic_results(tmp_path):
    """A reports/ folder with small real PNGs and plausible metrics."""
    figures = tmp_path / "reports/figures"
    figures.mkdir(parents=True)
    for number, name in enumerate(FIGURES):
        figure = plt.figure(figsize=(4 + number % 3, 3))
        figure.gca().plot([0, number])
        figure.savefig(figures / f"{name}.png")
        plt.close(figure)
    layers = [{"name": "conv_1", "output_shape": "28×28×32", "parameters": 288}]
    metrics = {
        "test_accuracy": 0.93456,
        "test_loss": 0.25,
        "recipe": {
            "epochs": 3,
            "batch_size": 128,
            "learning_rate": 4e-3,
            "weight_decay": 1e-4,
            "label_smoothing": 0.1,
            "augmentation": ["RandomFlip", "RandomTranslation"],
            "validation_size": 5000,
        },
        "train_seconds": 90.0,
        "parameters": 288,
        "architecture": layers,
        "history": {"val_accuracy": [0.8, 0.9]},
        "per_class": {name: {"f1-score": 0.7 if name == "Shirt" else 0.9} for name in CLASS_NAMES},
        "top_confusions": [{"classes": ["Shirt", "T-shirt/top"], "images": 120}] * 3,
        "calibration": {"temperature": 0.7, "test_ece_before": 0.08, "test_ece_after": 0.01, "test_nll_after": 0.2},
        "auto_tagging": {"0.99": {"coverage": 0.8, "accuracy": 0.991}, "0.995": {"coverage": 0.7, "accuracy": 0.996}},
        "similar_items": {"k": 5, "precision_at_k": 0.9, "embedding_size": 256, "catalogue_items": 10000},
        "explanations": {
            "method": "occlusion",
            "images": 200,
            "random_garment_drop_10": 0.25,
            "deletion_drop_10": {"occlusion": 0.5, "integrated_gradients": 0.4, "gradcam": 0.1},
        },
    }
    (tmp_path / "reports/metrics.json").write_text(json.dumps(metrics))
    return tmp_path


def test_deck_from_synthetic_results_has_the_titles_pictures_and_numbers(synthetic_results):
    path = slides.build(synthetic_results)
    check_deck(path, synthetic_results)
    deck = Presentation(path)
    assert "93.46 %" in slide_texts(deck.slides[TITLES.index("Results")])
    explained = slide_texts(deck.slides[TITLES.index("Explainability: which pixels the answer rests on")])
    assert "cuts the probability by 0.50 with occlusion: 2.0× random garment pixels (Grad-CAM: 0.4×" in explained


def test_missing_metrics_get_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="metrics.json"):
        slides.build(tmp_path)


def test_the_committed_presentation_carries_the_committed_numbers():
    check_deck(ROOT / "Fashion_MNIST_Presentation.pptx", ROOT)


@pytest.mark.slow
def test_the_committed_presentation_converts_to_pdf_with_libreoffice(tmp_path):
    soffice = require("soffice", "LibreOffice Impress (Debian's libreoffice-impress)")
    command = [soffice, "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path)]
    subprocess.run([*command, str(ROOT / "Fashion_MNIST_Presentation.pptx")], check=True, timeout=300)
    pdf = (tmp_path / "Fashion_MNIST_Presentation.pdf").read_bytes()
    assert len(re.findall(rb"/Type\s*/Page[^s]", pdf)) == len(TITLES)


def test_speed_text_reads_the_training_benchmark_and_is_empty_before_it_ran():
    assert slides.speed_text({}) == ""
    assert slides.speed_text({"ratio": 2.5}) == ""  # an older benchmark, without the time to accuracy
    speed = {"previous_recipe_seconds": 1800.0, "project_seconds": 600.0, "ratio": 3.0}
    text = slides.speed_text({"time_to_accuracy": speed})
    assert "3.0× faster" in text and not re.search(r"\d min", text)  # the slide gives one training time


@pytest.mark.parametrize("precision", ["mixed_bfloat16", "float32"])
def test_the_training_slide_gives_one_training_time_and_notes_that_read(synthetic_results, precision):
    speed = {"previous_recipe_seconds": 1800.0, "project_seconds": 600.0, "ratio": 3.0}
    benchmark = {"time_to_accuracy": speed, "accuracy_seeds": {"values": [0.94] * 3, "mean": 0.94}}
    (synthetic_results / "reports/training_benchmark.json").write_text(json.dumps(benchmark))
    metrics = json.loads((synthetic_results / "reports/metrics.json").read_text())
    (synthetic_results / "reports/metrics.json").write_text(json.dumps(metrics | {"training_precision": precision}))
    training = Presentation(slides.build(synthetic_results)).slides[TITLES.index("Training")]
    assert len(re.findall(r"\d min", slide_texts(training))) == 1
    assert "CIFAR" not in slide_texts(training)
    notes = training.notes_slide.notes_text_frame.text
    assert "computed:" not in notes and ("bfloat16" in notes) == (precision == "mixed_bfloat16")


def zalando_row(deck, entry) -> str:
    results = deck.slides[TITLES.index("Results")]
    (table,) = [shape.table for shape in results.shapes if shape.has_table]
    (row,) = [row for row in table.rows if row.cells[0].text == entry.model]
    return row.cells[1].text


def test_the_results_slide_gives_each_benchmark_row_at_its_authors_figure_beside_the_listed_one(synthetic_results):
    deck = Presentation(slides.build(synthetic_results))
    notes = deck.slides[TITLES.index("Results")].notes_slide.notes_text_frame.text
    for entry in zalando_benchmark.TWO_CONVOLUTIONS:
        figure = zalando_row(deck, entry)
        assert figure.startswith(f"{entry.reported * 100:.1f} %")
        assert (f"listed: {entry.listed * 100:.1f} %" in figure) == entry.corrected
        assert not entry.corrected or all(f"#{number}" in notes for number in entry.issues)


def claims_the_lead(deck) -> bool:
    """Whether the results slide says the project is above every two-convolution entry (not "not above")."""
    results = slide_texts(deck.slides[TITLES.index("Results")])
    return re.search(r"(?<!not )above every two-convolution entry", results) is not None


@pytest.mark.parametrize("accuracy", [0.9321, 0.93456, 0.945])
def test_the_results_slide_claims_the_lead_only_where_the_figures_support_it(synthetic_results, accuracy):
    metrics = json.loads((synthetic_results / "reports/metrics.json").read_text())
    (synthetic_results / "reports/metrics.json").write_text(json.dumps(metrics | {"test_accuracy": accuracy}))
    deck = Presentation(slides.build(synthetic_results))
    assert claims_the_lead(deck) == zalando_benchmark.above_every_entry(accuracy)


@pytest.mark.parametrize("seeds", [[0.9330, 0.9340], [0.9350, 0.9360]])
def test_the_lead_is_claimed_from_the_recipes_seeds_where_the_tolerances_measured_them(synthetic_results, seeds):
    runs = [{"seed": 42 + i, "precision": "mixed_bfloat16", "test_accuracy": a} for i, a in enumerate(seeds)]
    runs.append({"seed": 42, "precision": "float32", "test_accuracy": 0.99})  # the mean is of one precision's seeds
    (synthetic_results / "reports/regression_tolerances.json").write_text(json.dumps({"runs": runs}))
    deck = Presentation(slides.build(synthetic_results))
    assert claims_the_lead(deck) == zalando_benchmark.above_every_entry(statistics.mean(seeds))
    assert f"mean over 2 seeds {statistics.mean(seeds) * 100:.2f} %" in slide_texts(
        deck.slides[TITLES.index("Results")]
    )


def explained(text: str, metric: str) -> bool:
    """Whether the line naming `metric` goes on, after its figures, to say in a few words what it means."""
    (line,) = [line for line in text.split("\n") if metric in line.lower()]
    return len(re.sub(r".*\d", "", line).split()) >= 4


def test_the_calibration_figures_are_explained_and_a_missed_target_said(synthetic_results):
    metrics = json.loads((synthetic_results / "reports/metrics.json").read_text())
    metrics["auto_tagging"]["0.995"]["accuracy"] = 0.993  # under its target
    (synthetic_results / "reports/metrics.json").write_text(json.dumps(metrics))
    deck = Presentation(slides.build(synthetic_results))
    results, review = (deck.slides[TITLES.index(name)] for name in ("Results", "Auto-tag or review"))
    captions = [shape.text_frame.text for slide in (results, review) for shape in slide.shapes if shape.has_text_frame]
    assert explained("\n".join(captions), "negative log-likelihood") and explained(
        "\n".join(captions), "calibration error"
    )
    lines = [line for line in slide_texts(review).split("\n") if line.startswith("Target")]
    assert ["short of" in line for line in lines] == [False, True]


def test_the_confused_pairs_heading_sits_above_its_items(synthetic_results):
    deck = Presentation(slides.build(synthetic_results))
    errs = deck.slides[TITLES.index("Where the model errs")]
    (frame,) = [shape.text_frame for shape in errs.shapes if shape.has_text_frame and "↔" in shape.text_frame.text]
    heading, *items = frame.paragraphs
    assert "↔" not in heading.text and heading.runs[0].font.bold and len(items) == 3
    assert all(item.level > heading.level and "↔" in item.text for item in items)


def pictures_as_placed(deck) -> list:
    """Each picture of the deck: its name, its smallest font as placed on the slide (points) and its images."""
    placed = []
    for slide in deck.slides:
        for shape in (shape for shape in slide.shapes if shape.shape_type == MSO_SHAPE_TYPE.PICTURE):
            with Image.open(io.BytesIO(shape.image.blob)) as image:
                scale = shape.width / Inches(1) / (image.width / plots.DPI)
                info = image.info
            placed.append((slide.name, float(info["Smallest font (pt)"]) * scale, int(info["Images"])))
    return placed


def test_every_table_and_picture_of_the_committed_slides_lies_on_its_slide():
    presentation = Presentation(ROOT / "Fashion_MNIST_Presentation.pptx")
    width, height = presentation.slide_width, presentation.slide_height
    outside = [
        (slide.shapes.title.text_frame.text, shape.name)
        for slide in presentation.slides
        for shape in slide.shapes
        if (shape.has_table or shape.shape_type == MSO_SHAPE_TYPE.PICTURE)
        and (shape.left + shape.width > width or shape.top + shape.height > height)
    ]
    assert not outside, outside


def test_a_table_too_long_for_its_slide_is_refused_rather_than_run_off_it(tmp_path):
    rows = [("Layer", "Output shape", "Parameters"), *[(f"layer_{n}", "7×7×64", "0") for n in range(14)]]
    deck.render(deck.Deck(tmp_path), deck.Slide("Fits", "", table=rows))
    with pytest.raises(ValueError, match="does not fit the slide"):
        deck.render(deck.Deck(tmp_path), deck.Slide("Too long", "", table=[*rows, *rows[1:]]))


def test_the_committed_slides_read_in_a_room():
    """Every text on a slide, in a figure as placed or in a text box, is at least 14 pt, and no figure holds
    more than 6 images."""
    deck = Presentation(ROOT / "Fashion_MNIST_Presentation.pptx")
    small = [(name, round(points, 1)) for name, points, _ in pictures_as_placed(deck) if points < 14]
    assert not small, f"figures whose smallest text is under 14 pt as placed: {small}"
    crowded = [(name, images) for name, _, images in pictures_as_placed(deck) if images > 6]
    assert not crowded, f"figures with more than 6 images: {crowded}"
    sizes = [
        (slide.name, run.font.size.pt if run.font.size else 0)  # 0: no size of its own
        for slide in deck.slides
        for shape in slide.shapes
        for frame in ([shape.text_frame] if shape.has_text_frame else [])
        + ([cell.text_frame for row in shape.table.rows for cell in row.cells] if shape.has_table else [])
        for paragraph in frame.paragraphs
        for run in paragraph.runs
        if run.text.strip()
    ]
    assert sizes and all(points >= 14 for _, points in sizes), [size for size in sizes if size[1] < 14]
