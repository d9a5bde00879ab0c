"""The inference core, no TensorFlow: photos to model inputs, the TFLite model's answers, the catalogue."""
