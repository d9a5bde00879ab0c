"""The exported TFLite model at inference time, on the LiteRT interpreter alone: no TensorFlow to load.

The API (`fmnist.serve`), the taggers and the catalogue (`fmnist.core.catalogue`) use it, so that a server
worker starts in about a second and holds a fraction of the memory that importing TensorFlow would cost.
"""

import numpy as np
from ai_edge_litert.interpreter import Interpreter

INPUT, OUTPUTS = "image", ("embedding", "probabilities")  # the exported model's signature


class TFLiteClassifier:
    """A LiteRT interpreter for the exported model: images in, (embeddings, probabilities) out."""

    def __init__(self, path, num_threads: int = 1):
        self.interpreter = Interpreter(model_path=str(path), num_threads=num_threads)
        self.interpreter.allocate_tensors()
        signature = self.interpreter.get_signature_runner()  # the tensors by the names `export.to_tflite` gives
        inputs, outputs = signature.get_input_details(), signature.get_output_details()
        if INPUT not in inputs or not set(OUTPUTS) <= set(outputs):
            raise ValueError(
                f"{path} takes {sorted(inputs)} and gives {sorted(outputs)}, not {INPUT!r} and {list(OUTPUTS)}: "
                "export it again with `make export`"
            )
        self._input = inputs[INPUT]["index"]
        self._embedding, self._probabilities = (outputs[name]["index"] for name in OUTPUTS)
        self._batch = 1

    def __call__(self, images: np.ndarray):
        """Run a batch of float32 images (n, height, width, channels) in [0, 1], as the model takes them."""
        images = np.ascontiguousarray(images, dtype=np.float32)
        if len(images) != self._batch:
            self.interpreter.resize_tensor_input(self._input, images.shape)
            self.interpreter.allocate_tensors()
            self._batch = len(images)
        self.interpreter.set_tensor(self._input, images)
        self.interpreter.invoke()
        return self.interpreter.get_tensor(self._embedding), self.interpreter.get_tensor(self._probabilities)
