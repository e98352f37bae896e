"""Knowledge as data: TOML files read with importlib.resources (fingerprints, reply codes)."""
