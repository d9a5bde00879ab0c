"""The shop's batch tools on the inference core: tagging photos here or on Ray, and building the catalogue."""
