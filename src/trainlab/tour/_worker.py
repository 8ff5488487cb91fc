"""The tour's worker processes: ``python -m trainlab.tour._worker lane|render ...``.

A module of its own, imported by nothing, so that ``python -m`` runs it once (a module the package
imports would be imported a second time as ``__main__``).
"""

from __future__ import annotations

import gc
import os
import sys

if __name__ == "__main__":
    # No collection while the worker imports what it needs (TensorFlow and Keras make ~400k objects: the collector
    # ran ~1.3 s of a lane's start-up); each main() then freezes what it imported and turns collection back on.
    gc.disable()
    command, *rest = sys.argv[1:]
    if command == "lane":
        from trainlab.tour._lanes import main
    else:
        from trainlab.tour._render import main
    status = main(rest)
    sys.stdout.flush()
    sys.stderr.flush()
    # Out at once, without tearing the interpreter down: every result is written and closed by now, and a lane
    # that trained took ~4 s to free its models, traced programs and modules while the tour waited for it.
    os._exit(status)
