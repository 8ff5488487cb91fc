"""The compiled trainer: one engine for K >= 1 models, the epoch loop, and the run directory."""
