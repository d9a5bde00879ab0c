"""The README's and docs' figures are those of the committed reports: `make docs` (cog, docs/figures.py) wrote
them, and writing them again changes nothing."""

import re

from cogapp import Cog

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
