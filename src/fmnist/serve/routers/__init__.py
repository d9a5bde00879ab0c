"""The API's endpoints, one router per tag: predictions, catalogue and health."""
