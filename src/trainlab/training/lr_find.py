"""The LR finder's old address: it lives in :mod:`trainlab.tools.lr_find`, and ``trainlab.training.lr_find.lr_find`` still reaches it."""

import importlib
from typing import Any

_HOME = "trainlab.tools.lr_find"  # a tool above training: imported only when a name is asked for


def __getattr__(name: str) -> Any:
    return getattr(importlib.import_module(_HOME), name)
