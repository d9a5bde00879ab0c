"""Export the trained model (.keras, SavedModel, TFLite float32 and dynamic-range int8) and check parity."""

import contextlib
import io
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from fmnist.core.model_folder import FASHION_MNIST_SPEC, Spec, pack
from fmnist.core.runtime import OUTPUTS, TFLiteClassifier
from fmnist.model import EMBEDDING_LAYER, with_outputs


def to_tflite(model: keras.Model, quantize: bool = False, spec: Spec = FASHION_MNIST_SPEC) -> bytes:
    """Convert the model to a TFLite flatbuffer whose signature names its input and outputs as
    `runtime.INPUT` and `runtime.OUTPUTS`: the image in, the embedding and the probabilities out. Its class
    names and input (`spec`) are packed inside (`fmnist.core.model_folder`).

    `quantize` stores the weights as int8 (dynamic-range quantisation). The converter's report of its
    temporary SavedModel is swallowed: it names a random folder and says nothing useful here.
    """
    if tuple(model.input_shape[1:]) != spec.shape or model.output_shape[-1] != len(spec.labels):
        raise ValueError(
            f"the model takes {model.input_shape[1:]} and gives {model.output_shape[-1]} classes; its spec says "
            f"{spec.shape} and {len(spec.labels)}: export a photo model with `python -m fmnist.train_photos`"
        )
    embedding, probabilities = with_outputs(model, [EMBEDDING_LAYER]).outputs
    named = keras.Model(model.inputs[0], dict(zip(OUTPUTS, (embedding, probabilities), strict=True)))
    converter = tf.lite.TFLiteConverter.from_keras_model(named)
    if quantize:
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    with contextlib.redirect_stdout(io.StringIO()):
        return pack(converter.convert(), spec)


def export_all(model: keras.Model, folder, spec: Spec = FASHION_MNIST_SPEC, name: str = "fashion_cnn") -> dict:
    """Write the four artifacts under `folder`, each file named `name`, and return their paths by format."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {
        "keras": folder / f"{name}.keras",
        "saved_model": folder / "saved_model",
        "tflite": folder / f"{name}.tflite",
        "tflite_int8": folder / f"{name}_int8.tflite",
    }
    logger, level = tf.get_logger(), tf.get_logger().level
    logger.setLevel("ERROR")  # the SavedModel writer logs its temporary asset folders at INFO
    try:
        model.save(paths["keras"])
        model.export(str(paths["saved_model"]), format="tf_saved_model", verbose=False)
        paths["tflite"].write_bytes(to_tflite(model, spec=spec))
        paths["tflite_int8"].write_bytes(to_tflite(model, quantize=True, spec=spec))
    finally:
        logger.setLevel(level)
    return paths


def predict_in_batches(predict, images, batch_size=500) -> np.ndarray:
    """Concatenate the probabilities of `predict(batch)` over `images`."""
    return np.concatenate([np.asarray(predict(images[i : i + batch_size])) for i in range(0, len(images), batch_size)])


def parity(model: keras.Model, paths: dict, images, labels) -> dict:
    """Compare every exported format with Keras on `images`: argmax agreement, largest |Δp|, accuracy."""
    reference = predict_in_batches(lambda batch: model(batch, training=False), images)
    saved = tf.saved_model.load(str(paths["saved_model"]))
    tflite, tflite_int8 = TFLiteClassifier(paths["tflite"], 2), TFLiteClassifier(paths["tflite_int8"], 2)
    candidates = {
        "saved_model": lambda batch: saved.serve(tf.constant(batch)),
        "tflite": lambda batch: tflite(batch)[1],
        "tflite_int8": lambda batch: tflite_int8(batch)[1],
    }
    report = {"keras": {"accuracy": float((reference.argmax(1) == labels).mean())}}
    for name, predict in candidates.items():
        probabilities = predict_in_batches(predict, images)
        report[name] = {
            "argmax_agreement": float((probabilities.argmax(1) == reference.argmax(1)).mean()),
            "max_abs_probability_difference": float(np.abs(probabilities - reference).max()),
            "accuracy": float((probabilities.argmax(1) == labels).mean()),
        }
    return report


def main(argv=None):
    """Re-export a saved `.keras` model next to itself and print the parity report on the test set."""
    import argparse

    from fmnist import data

    parser = argparse.ArgumentParser(description="Export a trained model and check parity on the test set.")
    parser.add_argument("model", help="path of the trained .keras model, e.g. models/fashion_cnn.keras")
    arguments = parser.parse_args(argv)
    model = keras.saving.load_model(arguments.model, safe_mode=True)
    paths = export_all(model, Path(arguments.model).parent)
    _, (test_images, test_labels) = data.load_data()
    for name, scores in parity(model, paths, data.scale_images(test_images), test_labels).items():
        print(f"{name:<12}", ", ".join(f"{key} {value:.6f}" for key, value in scores.items()))


if __name__ == "__main__":
    main()
