"""How faithful are the explanations? Deletion, insertion, garment share and a sanity check, per method.

    python -m benchmarks.explanations [--images 1000] [--model models/fashion_cnn.keras]

On `--images` test images (a seeded random sample), for the predicted class of each:
- deletion: blank (set to 0, the background) the pixels a map ranks highest; `deletion_drop_10` is the mean
  drop of the class probability after 10 % of the pixels, `deletion_auc` the area under the whole curve
  (lower is better), `insertion_auc` the same for putting the pixels back into a black image (higher is
  better) — Petsiuk et al., 2018;
- the baseline: the same drop after blanking 10 % of the pixels at random among the garment's;
- `garment_share`: the share of heat on the garment (a uniform map scores `uniform_garment_share`);
- the sanity check of Adebayo et al., 2018: the Spearman rank correlation between each image's maps from the
  trained model and from the same network with fresh random weights. A method passes when the median is
  below `SANITY_MAX_CORRELATION`: its maps depend on what the model learned.
Writes reports/explanations.json.
"""

import argparse
import functools
import json
import time
from pathlib import Path

import keras
import numpy as np

import fmnist.model  # noqa: F401 (registers the project's layers, for load_model)
from benchmarks.machine import processor_name
from fmnist import data, explain

ROOT = Path(__file__).resolve().parent.parent
SANITY_MAX_CORRELATION = 0.5


def gated_gradcam(model, images, labels=None):
    """Grad-CAM times each pixel's brightness (a black background pixel holds no evidence to take away): it
    ranks pixels better in the deletion test but fails the sanity check, since the image then shapes the map
    more than the model does."""
    return explain.scale_to_peak(explain.gradcam(model, images, labels) * np.asarray(images)[..., 0])


def insertion_curve(predict, images, orders, labels) -> np.ndarray:
    """Class probability as the pixels are put back into a black image in `orders` order: keeping the top
    fraction f is blanking the bottom 1 − f, and the fractions are symmetric."""
    return explain.deletion_curve(predict, images, orders[:, ::-1], labels)[:, ::-1]


def garment_share(maps, images) -> np.ndarray:
    """Share of each map's heat that falls on the garment (a uniform map scores the garment's area)."""
    maps = np.asarray(maps).reshape(len(maps), -1)
    total = maps.sum(axis=1)
    on_garment = (maps * explain.garment_mask(images)).sum(axis=1)
    return np.divide(on_garment, total, out=np.zeros_like(total), where=total > 0)


def rank_correlation(maps, other_maps) -> np.ndarray:
    """Spearman rank correlation between two maps of each image (NaN where one map is constant)."""
    from scipy.stats import spearmanr

    pairs = zip(np.reshape(maps, (len(maps), -1)), np.reshape(other_maps, (len(maps), -1)), strict=True)
    return np.array([spearmanr(a, b).statistic if a.std() and b.std() else np.nan for a, b in pairs])


# Besides the library's methods: Grad-CAM's other variants, to show what each choice costs.
VARIANTS = {
    "gradcam_keras_io": functools.partial(explain.gradcam, layer="conv_2", variant="gradcam"),
    "gradcam_gated": gated_gradcam,
}


def evaluate_method(name, model, randomised, images, labels, baseline_drop) -> dict:
    method = {**explain.METHODS, **VARIANTS}[name]
    predict = explain.predictor(model)
    start = time.perf_counter()
    maps = method(model, images, labels)
    seconds = time.perf_counter() - start
    orders = explain.pixel_order(maps)
    deletion = explain.deletion_curve(predict, images, orders, labels)
    insertion = insertion_curve(predict, images, orders, labels)
    drop = explain.deletion_drop(deletion)
    correlations = rank_correlation(maps, method(randomised, images, labels))
    median_correlation = float(np.nanmedian(correlations))
    return {
        "deletion_drop_10": round(drop, 4),
        "deletion_ratio": round(drop / baseline_drop, 3),
        "deletion_auc": round(float(np.trapezoid(deletion.mean(axis=0), explain.DELETION_FRACTIONS)), 4),
        "insertion_auc": round(float(np.trapezoid(insertion.mean(axis=0), explain.DELETION_FRACTIONS)), 4),
        "garment_share": round(float(garment_share(maps, images).mean()), 4),
        "all_zero_maps": round(float((maps.reshape(len(maps), -1).max(axis=1) == 0).mean()), 4),
        "sanity_rank_correlation": round(median_correlation, 4),
        "sanity_passed": bool(median_correlation < SANITY_MAX_CORRELATION),
        "deletion_curve": [round(float(p), 4) for p in deletion.mean(axis=0)],
        "insertion_curve": [round(float(p), 4) for p in insertion.mean(axis=0)],
        "milliseconds_per_image": round(1000 * seconds / len(images), 2),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--model", default=str(ROOT / "models/fashion_cnn.keras"))
    parser.add_argument("--methods", nargs="+", default=[*explain.METHODS, *VARIANTS])
    parser.add_argument("--output", default=str(ROOT / "reports/explanations.json"))
    args = parser.parse_args()

    keras.utils.set_random_seed(0)
    model = keras.saving.load_model(args.model)
    randomised = keras.models.clone_model(model)  # the same network, freshly initialised
    (_, _), (x_test, _) = data.load_data()
    chosen = np.random.default_rng(0).choice(len(x_test), args.images, replace=False)
    images = data.scale_images(x_test[chosen])
    predict = explain.predictor(model)
    labels = predict(images).argmax(axis=1)

    baseline = explain.deletion_curve(predict, images, explain.random_garment_orders(images), labels)
    baseline_drop = explain.deletion_drop(baseline)
    methods = {}
    for name in args.methods:
        methods[name] = evaluate_method(name, model, randomised, images, labels, baseline_drop)
        print(name, {key: value for key, value in methods[name].items() if not key.endswith("curve")}, flush=True)
    report = {
        "n_images": args.images,
        "model": Path(args.model).name,
        "default_method": explain.DEFAULT_METHOD,
        "shown_methods": list(explain.METHODS),  # in the notebook's deletion plot; the maps are the default's
        "deletion_fractions": [round(float(f), 2) for f in explain.DELETION_FRACTIONS],
        "random_garment_baseline": {
            "deletion_drop_10": round(baseline_drop, 4),
            "deletion_curve": [round(float(p), 4) for p in baseline.mean(axis=0)],
        },
        "uniform_garment_share": round(float(explain.garment_mask(images).mean()), 4),
        "sanity_max_correlation": SANITY_MAX_CORRELATION,
        "methods": methods,
        "command": f"python -m benchmarks.explanations --images {args.images}",
        "processor": processor_name(),
    }
    print(json.dumps({k: v for k, v in report.items() if k != "methods"}, indent=1))
    Path(args.output).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
