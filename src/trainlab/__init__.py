"""trainlab: train neural networks well with TensorFlow/Keras.

The public API (imported lazily, so ``trainlab --help`` and config errors stay fast)::

    import trainlab
    run = trainlab.train("examples/basic.yaml", training__epochs=20)
    run.history[-1], run.summary["best_epoch"], run.dir
    trainlab.tour(out="runs/tour", quick=True)   # the tutorial, replayed (the tour module is callable)
    predictor = trainlab.load(run.dir)           # the model with its preprocessing: predict, evaluate, export
    predictor.predict(raw_inputs), predictor.predict_classes(raw_inputs)
    search = trainlab.tune("examples/tune/basic.yaml")  # a search (the tune module is callable)
    search.trials, search.best, search.dir
"""

from __future__ import annotations

from trainlab.lazy import lazy_names

__version__ = "0.1.0"

_LAZY = {
    "train": "trainlab.training",
    "resume": "trainlab.training",
    "study": "trainlab.studies",
    "Run": "trainlab.training",
    "Trainer": "trainlab.training",
    "Recipe": "trainlab.config",
    "load_recipe": "trainlab.training",
    "load": "trainlab.inference",
    "Predictor": "trainlab.inference",
    "TrainlabError": "trainlab.errors",
}
_SUBPACKAGES = {
    "callbacks", "config", "data", "diagnose", "inference", "losses", "metrics", "models", "monitor", "optimizers", "regularizers",
    "schedules", "studies", "training", "report", "rundir", "tools", "tour", "tracking", "tune",
}

__all__ = sorted(_LAZY) + sorted(_SUBPACKAGES)

__getattr__, __dir__ = lazy_names(__name__, _LAZY, submodules=_SUBPACKAGES)
