"""The run directory: the contract between training and everything after it.

``layout`` names its files and writes them atomically (training writes through it);
``read`` loads them back as :class:`Records` for figures, diagnosis, reports, studies and
tracking; ``study`` does the same for a study directory's tables. None imports TensorFlow, so
readers never load the training stack.

    from trainlab import rundir
    records = rundir.load("runs/basic")      # history, steps, layers, events, summary, weights
    rundir.HISTORY                            # "history.csv"
"""

from trainlab.rundir.layout import (
    EVENTS,
    HISTORY,
    LAYERS,
    MODEL,
    PREPROCESSING,
    RECIPE,
    STATE,
    STEPS,
    SUMMARY,
    TENSORBOARD,
    WEIGHTS,
    CsvRecords,
    count_rows,
    discard,
    new_run_dir,
    read_csv,
    write_json,
    write_npz,
    write_yaml,
)
from trainlab.rundir.read import TRAIN_EVAL, Records, as_records, display_order, load, read_json

__all__ = [
    "EVENTS", "HISTORY", "LAYERS", "MODEL", "PREPROCESSING", "RECIPE", "STATE", "STEPS", "SUMMARY", "TENSORBOARD",
    "TRAIN_EVAL", "WEIGHTS", "CsvRecords", "Records", "as_records", "count_rows", "display_order", "discard",
    "load", "new_run_dir", "read_csv", "read_json", "write_json", "write_npz", "write_yaml",
]
