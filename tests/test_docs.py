"""The figures that README.md quotes are those of the committed reports."""

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def report(name: str) -> dict:
    return json.loads((ROOT / "reports" / name).read_text())


def quoted_figures() -> dict:
    """Each figure README.md quotes, formatted as it is quoted, from `reports/*.json`."""
    metrics, training = report("metrics.json"), report("training_benchmark.json")
    speed, seeds = training["time_to_accuracy"], training["accuracy_seeds"]
    return {
        "test_accuracy": f"{metrics['test_accuracy']:.4f}",
        "test_loss": f"{metrics['test_loss']:.3f}",
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
    }


QUOTED = ["test_accuracy", "test_loss", "parameters", "epochs", "batch_size", "shirt_f1", "precision_at_5"]
QUOTED += ["tflite_agreement", "seed_mean", "seeds", "previous_seconds", "project_seconds"]
QUOTED += ["ratio", "notebook_seconds", "notebook_minutes", "training_minutes"]


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
