"""Reports read the run directory's records: the terminal summary (and later HTML)."""
