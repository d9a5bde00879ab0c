"""The README's and docs' figures are those of the committed reports: `make docs` (cog, docs/figures.py) wrote
them, and writing them again changes nothing."""

import re
import statistics

from cogapp import Cog

from fmnist import slides, zalando_benchmark
from fmnist.core import catalogue, images
from tests.committed import ROOT, report

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_every_generated_figure_is_current(capsys):
    """cog --check over every doc, as `make docs` runs it; a missing report fails here with its name."""
    arguments = ["cog", "--check", "--diff", "-I", str(ROOT), "-I", str(ROOT / "docs"), "-p", "import figures"]
    status = Cog().main([*arguments, *map(str, DOCS)])
    output = capsys.readouterr()
    assert status == 0, f"run `make docs`:\n{output.out}{output.err}"


def test_every_doc_has_generated_figures():
    blocks = {path.name: path.read_text().count("[[[cog") for path in DOCS}
    assert all(blocks[name] for name in ("README.md", "serving.md", "training.md", "reproducibility.md")), blocks


def test_readme_is_short_and_links_the_docs():
    readme = (ROOT / "README.md").read_text()
    assert len(readme.splitlines()) <= 150
    for link in re.findall(r"\]\((docs/[\w.]+)\)", readme):
        assert (ROOT / link).is_file(), link


def test_the_ann_threshold_is_where_exact_search_stops_being_cheap():
    """Exact search at the threshold answers within about a millisecond; at the next measured size it doesn't."""
    bench = report("similar_benchmark.json")
    assert bench["ann_threshold"] == catalogue.ANN_THRESHOLD
    at = [run for run in bench["exact"] if run["items"] <= catalogue.ANN_THRESHOLD][-1]
    above = [run for run in bench["exact"] if run["items"] > catalogue.ANN_THRESHOLD][0]
    assert at["p99_ms"] <= 1.5 < above["p99_ms"] and above["p99_ms"] > bench["p99_ms"]


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


def quotes(text: str, figure: float) -> bool:
    """Whether `text` quotes `figure` as 0.939 or as 93.9 %, not as a longer number that starts alike."""
    return bool(re.search(rf"(?<![\d.]){figure}(?!\d)|(?<![\d.]){figure * 100:.1f} %", text))


def test_wherever_the_docs_quote_zalandos_misquoted_row_its_authors_figure_and_issues_stand_beside_it():
    """Per paragraph or table row; the mutation table of docs/reproducibility.md quotes failed tests' output."""
    for entry in (entry for entry in zalando_benchmark.TWO_CONVOLUTIONS if entry.corrected):
        for path in DOCS:
            for block in re.split(r"\n\s*\n|\n(?=\|)", path.read_text()):
                if quotes(block, entry.listed) and "AssertionError" not in block:
                    assert f"{entry.author:.4f}" in block or f"{entry.author * 100:.2f} %" in block, path.name
                    assert all(f"#{number}" in block for number in entry.issues), path.name


def test_only_the_benchmark_module_holds_zalandos_figures():
    modules = sorted((ROOT / "src" / "fmnist").rglob("*.py"))
    holding = {
        path.name
        for path in modules
        for entry in zalando_benchmark.TWO_CONVOLUTIONS
        if quotes(path.read_text(), entry.listed)
    }
    assert holding == {"zalando_benchmark.py"}


def test_the_readme_claims_the_lead_over_the_benchmark_only_where_the_committed_seeds_support_it():
    mean = statistics.mean(slides.seed_accuracies(report("regression_tolerances.json")).values())
    readme = " ".join((ROOT / "README.md").read_text().split())
    assert ("is above every two-convolution entry" in readme) == zalando_benchmark.above_every_entry(mean)
    assert f"{mean:.4f}, is" in readme
