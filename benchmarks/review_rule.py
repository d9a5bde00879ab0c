"""Which review rule holds off Fashion-MNIST's conventions (docs/robustness.md, "How the recipe is chosen",
step 4 and its amendment), chosen on the validation split.

    python -m benchmarks.review_rule MODEL.keras --seed 42 [--output build/review_rule.json]

A trained model's temperature and margin thresholds are fitted on the notebook's validation split as drawn;
on it with one copy drawn by the recipe's augmentation (`fmnist.recipe.build_augmentation`); or on it with
one copy drawn by a stronger augmentation used for calibration only. A fourth rule keeps the first one's
thresholds and adds a novelty score: one minus the embedding's cosine similarity to the nearest class mean
of the training images, above the 99th percentile of the clean validation images' scores going to review.
A fifth keeps the second one's thresholds and adds two checks of the image (step 4's second amendment): the
share of its edge where the garment shows, and its grain, each above the 99.5th percentile of the clean
validation images' scores going to review.
With `--mirror-average` (step 4's third amendment), the model answers with the mean of its probabilities for
the image and for its mirror, and four rules are fitted on those: (f) as the second; (g) that and a
disagreement check, half the summed absolute difference between the two views' probabilities, above the 99th
percentile of the clean validation images' going to review; (h) that and the fifth rule's image checks; (i)
the first of these and two image checks: the cut-off judged against the image's own background level, and the
grain with its limit at the 99th percentile (step 4's fourth amendment); (j) the same with its margin thresholds
fitted only on the images that pass those checks (step 4's fifth amendment).
Each is judged on the validation split under every condition of the robustness benchmark: the share tagged
without review at each target, and the accuracy among those. The test split is not read.
"""

import argparse
import json
from pathlib import Path

import numpy as np

from benchmarks import robustness
from fmnist.calibrate import IMAGE_CHECK_PERCENTILES  # rule (i), the one in the product
from fmnist.core import search
from fmnist.core.review import PASSED, cut_off, grain, image_checks

NOVELTY_PERCENTILE = 99
CHECK_PERCENTILE = 99.5
DISAGREEMENT_PERCENTILE = 99
# each image's scores, a column each (`scores`), that a rule may limit
SCORES = ("novelty", "cut_off", "grain", "disagreement", "cut_off_background")


def calibration_augmentation(seed: int):
    """The stronger augmentation of rule (c): for calibration only, never for training."""
    import keras
    from keras import layers

    constant = {"fill_mode": "constant", "seed": seed}
    return keras.Sequential([
        layers.RandomFlip("horizontal", seed=seed),
        layers.RandomRotation(15 / 360, **constant),
        layers.RandomZoom((-0.3, 0.7), **constant),
        layers.RandomContrast(0.5, value_range=(0, 1), seed=seed),
        layers.GaussianNoise(0.1, seed=seed),
    ])  # fmt: skip


def fit(probabilities, labels, passed=None) -> tuple[float, dict]:
    """The temperature and the margin threshold of each target, fitted on `probabilities` of `labels`; with
    `passed` (rule j), the thresholds on the images that pass the image checks alone."""
    from fmnist import calibrate

    temperature = calibrate.fit_temperature(probabilities, labels)
    scaled = calibrate.apply_temperature(probabilities, temperature)
    margins, right = calibrate.margin(scaled), scaled.argmax(axis=1) == labels
    if passed is not None:
        margins, right = margins[passed], right[passed]
    targets = {str(t): calibrate.review_threshold(margins, right, t) for t in calibrate.REVIEW_TARGETS}
    return temperature, targets


def novelty(embeddings, centroids) -> np.ndarray:
    """One minus the cosine similarity to the nearest of the unit-length `centroids`."""
    return 1 - (search.normalize(embeddings) @ centroids.T).max(axis=1)


def disagreement(probabilities, mirrored) -> np.ndarray:
    """Half the summed absolute difference between the probabilities of each image and of its mirror."""
    return np.abs(probabilities - mirrored).sum(axis=1) / 2


def scores(images, embeddings, centroids, disagreements) -> np.ndarray:
    """Each image's `SCORES`, a column each: what rules (d), (e), (g), (h) and (i) limit."""
    columns = [novelty(embeddings, centroids), cut_off(images, None), grain(images), disagreements, cut_off(images)]
    return np.stack(columns, axis=1)


def judged(probabilities, image_scores, labels, temperature, thresholds, limits) -> dict:
    """The auto-tag figures of one condition: accepted where the margin clears the threshold and every score
    stays within its limit (infinite: none)."""
    from fmnist import calibrate

    scaled = calibrate.apply_temperature(probabilities, temperature)
    right, margins = scaled.argmax(axis=1) == labels, calibrate.margin(scaled)
    within = (image_scores <= limits).all(axis=1)
    return {
        target: calibrate.tagged_alone(~calibrate.needs_review(margins, threshold) & within, right)
        for target, threshold in thresholds.items()
    }


def fitted_rules(clean: tuple, augmented: dict, labels, mirror_averaged=False, review_images=None) -> dict:
    """Each rule's temperature, thresholds and limits of the `SCORES` it limits, from the validation split's
    (probabilities, scores) as drawn (`clean`) and the probabilities of each augmented copy; rules (f) to (i)
    for probabilities averaged over the mirror, (a) to (e) else. Rule (j) joins (f) to (i) given the
    `review_images`: the validation images as drawn, then the training augmentation's copy."""
    twice, clean_scores = np.concatenate([labels, labels]), dict(zip(SCORES, clean[1].T, strict=True))
    fits = {"(a) validation as drawn": (*fit(clean[0], labels), {})}
    for rule, copy in (("(b)", "training augmentation"), ("(c)", "calibration augmentation")):
        fits[f"{rule} with the {copy}"] = (*fit(np.concatenate([clean[0], augmented[copy]]), twice), {})
    novelty = {"novelty": np.percentile(clean_scores["novelty"], NOVELTY_PERCENTILE)}
    fits["(d) margin and novelty"] = (*fits["(a) validation as drawn"][:2], novelty)
    checks = {score: np.percentile(clean_scores[score], CHECK_PERCENTILE) for score in ("cut_off", "grain")}
    fits["(e) with image checks"] = (*fits["(b) with the training augmentation"][:2], checks)
    if not mirror_averaged:
        return fits
    agreement = {"disagreement": np.percentile(clean_scores["disagreement"], DISAGREEMENT_PERCENTILE)}
    against_background = {
        "cut_off_background": np.percentile(clean_scores["cut_off_background"], IMAGE_CHECK_PERCENTILES["cut_off"]),
        "grain": np.percentile(clean_scores["grain"], IMAGE_CHECK_PERCENTILES["grain"]),
    }
    fitted = fits["(b) with the training augmentation"][:2]
    fits = {
        "(f) mirror averaged, with the training augmentation": (*fitted, {}),
        "(g) mirror averaged, with the disagreement check": (*fitted, agreement),
        "(h) mirror averaged, with the disagreement and image checks": (*fitted, agreement | checks),
        "(i) mirror averaged, with image checks against the background": (*fitted, against_background),
    }
    if review_images is not None:  # the product's names of the same two checks
        limits = {"cut_off": against_background["cut_off_background"], "grain": against_background["grain"]}
        passed = np.array(image_checks(review_images, limits)) == PASSED
        both = np.concatenate([clean[0], augmented["training augmentation"]])
        passing = (*fit(both, twice, passed), against_background)
        fits["(j) mirror averaged, thresholds fitted on the images that pass the checks"] = passing
    return fits


def rule_report(name, temperature, thresholds, limits: dict, predicted: dict, labels) -> dict:
    """One rule judged under every condition's (probabilities, scores), printed as well; `limits` by score,
    none for a score it leaves out."""
    columns = np.array([limits.get(score, np.inf) for score in SCORES])
    tagged = {
        condition: judged(p, image_scores, labels, temperature, thresholds, columns)
        for condition, (p, image_scores) in predicted.items()
    }
    worst = {t: min(r[t]["accuracy"] for r in tagged.values() if r[t]["accuracy"] is not None) for t in thresholds}
    clean_coverage = {t: tagged["unchanged"][t]["coverage"] for t in thresholds}
    report = {"temperature": round(temperature, 4), "thresholds": thresholds}
    report |= {f"{score}_limit": round(float(limits[score]), 4) if score in limits else None for score in SCORES}
    report |= {"clean_coverage": clean_coverage, "worst_accuracy": worst, "conditions": tagged}
    print(f"{name}: T {temperature:.3f}, limits {limits}")
    print(f"  clean coverage {clean_coverage}, worst accuracy among the tagged {worst}")
    return report


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--seed", type=int, default=42, help="the seed the model was trained with (its split)")
    parser.add_argument("--output", type=Path)
    parser.add_argument("--mirror-average", action="store_true", help="rules (f) to (i), for the averaged network")
    arguments = parser.parse_args(argv)

    import keras

    from fmnist import data, model, recipe, similar

    (images, labels), _ = data.load_data()
    (x_train, y_train), (x_val, y_val) = data.split_validation(images, labels, recipe.VALIDATION_SIZE, arguments.seed)
    served = model.float32_copy(keras.models.load_model(arguments.model))
    both = similar.embedding_model(served)

    def outputs(pictures):  # probabilities (averaged over the mirror, if asked), embeddings, disagreements
        embeddings, probabilities = both.predict(np.asarray(pictures), batch_size=1000, verbose=0)
        if not arguments.mirror_average:
            return probabilities, embeddings, np.zeros(len(probabilities))
        mirrored = both.predict(np.asarray(pictures)[:, :, ::-1], batch_size=1000, verbose=0)[1]
        return (probabilities + mirrored) / 2, embeddings, disagreement(probabilities, mirrored)

    train_embeddings = outputs(data.scale_images(x_train))[1]
    centroids = search.normalize(np.stack([train_embeddings[y_train == k].mean(axis=0) for k in range(10)]))

    def judged_inputs(garments):  # uint8 garments: their probabilities and scores
        images = data.scale_images(garments)
        probabilities, embeddings, disagreements = outputs(images)
        return probabilities, scores(images, embeddings, centroids, disagreements)

    conditions = {"unchanged": x_val} | {name: robustness.changed(x_val, name) for name in robustness.CONDITIONS}
    predicted = {name: judged_inputs(garments) for name, garments in conditions.items()}
    copies = {
        "training augmentation": recipe.build_augmentation(arguments.seed),
        "calibration augmentation": calibration_augmentation(arguments.seed),
    }
    drawn = {name: np.asarray(layer(data.scale_images(x_val), training=True)) for name, layer in copies.items()}
    augmented = {name: outputs(images)[0] for name, images in drawn.items()}
    review_images = np.concatenate([data.scale_images(x_val), drawn["training augmentation"]])
    fits = fitted_rules(predicted["unchanged"], augmented, y_val, arguments.mirror_average, review_images)
    report = {name: rule_report(name, *rule, predicted, y_val) for name, rule in fits.items()}
    if arguments.output:
        arguments.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
