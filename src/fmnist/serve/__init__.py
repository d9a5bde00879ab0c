"""The prediction, explanation and similar-items API, split as FastAPI's "Bigger Applications" (docs/serving.md)."""
