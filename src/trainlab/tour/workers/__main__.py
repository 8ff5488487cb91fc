"""``python -m trainlab.tour.workers lane|render ...``: a tour worker process.

A module imported by nothing, so that ``python -m`` runs it once (a module the package imports would be
imported a second time as ``__main__``).
"""

from __future__ import annotations

import gc
import os
import sys

if __name__ == "__main__":
    # No collection while the worker imports what it needs (TensorFlow and Keras make ~400k objects); each main()
    # then freezes what it imported and turns collection back on.
    gc.disable()
    command, *rest = sys.argv[1:]
    if command == "lane":
        from trainlab.tour.workers.lanes import main  # the one worker asked for, imported with collection off
    else:
        from trainlab.tour.workers.render import main  # the one worker asked for, imported with collection off
    status = main(rest)
    sys.stdout.flush()
    sys.stderr.flush()
    # Out at once, without tearing the interpreter down: every result is sent by now, and a lane that trained
    # takes seconds to free its models, traced programs and modules while the tour waits for it.
    os._exit(status)
