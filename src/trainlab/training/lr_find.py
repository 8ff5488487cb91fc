"""The LR finder's old address: it lives in :mod:`trainlab.tools.lr_find`, and ``trainlab.training.lr_find.lr_find`` still reaches it."""

import importlib
from typing import Any


def __getattr__(name: str) -> Any:
    # Resolved on use, so that training never imports the tools above it.
    return getattr(importlib.import_module("trainlab.tools.lr_find"), name)
