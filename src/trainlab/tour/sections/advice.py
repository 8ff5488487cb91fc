"""Section 11: the tutorial's closing advice, each piece mapped to the trainlab feature that does it."""

from __future__ import annotations

import typing
from typing import Any

from trainlab.tour.section import Context, Section, Table

# (the tutorial's advice, what trainlab does about it, where the tour shows it)
ADVICE = [
    ("Choose the loss for the task",
     "loss: auto picks it from the data's task; every Keras loss by name, the focal family (binary, sparse, "
     "one-hot, from logits); a loss that does not fit the labels is an error before training",
     "section 1; docs/recipes.md#loss"),
    ("Understand the optimizers",
     "every Keras optimizer by name with recipe-style clipping; trainlab optimizers race on four test functions; "
     "examples/studies/optimizers.yaml on a real model",
     "section 2; docs/tools.md"),
    ("Schedule the learning rate",
     "exponential, polynomial, piecewise, cosine, warmup_cosine, one_cycle (unit: epoch or step); trainlab "
     "schedules plot --recipe shows a recipe's rate over its run; trainlab lr-find suggests the starting rate",
     "sections 3 and 8; docs/tools.md"),
    ("Regularize against overfitting",
     "model.dropout, model.batch_norm, model.kernel_regularizer; studies compare them over seeds with "
     "confidence intervals and tests",
     "sections 6 and 7"),
    ("Monitor training in real time",
     "a live progress line; history.csv, steps.csv, layers.csv written as it trains; TensorBoard; monitor.png; "
     "trainlab figures works on a run still training",
     "sections 4 and 10"),
    ("Use early stopping and checkpoints",
     "training.early_stopping restores the best weights into model.keras; the model_checkpoint callback; Ctrl-C "
     "keeps the records and the weights",
     "sections 5 and 8"),
    ("Watch gradient norms for explosion and vanishing",
     "the global gradient norm of every step (before clipping) and per layer each epoch; the diagnosis rules "
     "exploding_gradients, vanishing_gradients, dead_relu, saturation, nonfinite",
     "section 10; README, Diagnosis"),
    ("Tune hyper-parameters on a validation set",
     "data.validation_split and data.test_split (scaled with the training statistics only); studies with vary "
     "and grid over seeds; trainlab lr-find",
     "sections 6, 7 and 8"),
    ("Visualize training",
     "curves.png, monitor.png, layers.png, weights.png and report.html for every run; a report per study; this "
     "page",
     "every section"),
    ("(missing from the tutorial) Repeat a comparison over seeds",
     "trainlab study: each variant over several seeds, fused into one compiled program; the ranking says which "
     "differences are noise",
     "section 6"),
]

# The features each piece of advice names, looked up when the section runs (a renamed or removed feature shows):
# (kind, name) with kind a registry ("loss", "schedule", "callback", "rule") or "key" (a recipe key path).
CLAIMS: dict[str, list[tuple[str, str]]] = {
    "Choose the loss for the task": [("key", "loss"), ("loss", "focal"), ("loss", "sparse_categorical_focal"),
                                     ("loss", "categorical_focal")],
    "Understand the optimizers": [("key", "optimizer.clip_norm"), ("key", "optimizer.global_clip_norm")],
    "Schedule the learning rate": [("schedule", name) for name in ("exponential", "polynomial", "piecewise",
                                                                    "cosine", "warmup_cosine", "one_cycle")],
    "Regularize against overfitting": [("key", "model.dropout"), ("key", "model.batch_norm"),
                                       ("key", "model.kernel_regularizer")],
    "Monitor training in real time": [("key", "training.tensorboard"), ("callback", "tensorboard")],
    "Use early stopping and checkpoints": [("key", "training.early_stopping"), ("callback", "model_checkpoint")],
    "Watch gradient norms for explosion and vanishing": [("rule", name) for name in (
        "exploding_gradients", "vanishing_gradients", "dead_relu", "saturation", "nonfinite")],
    "Tune hyper-parameters on a validation set": [("key", "data.validation_split"), ("key", "data.test_split")],
}

_STORY = (
    "The tutorial closed with nine pieces of advice. Each one is a feature of trainlab, on by default where it "
    "can be; the table says which, and where this tour showed it. One piece of advice the tutorial needed and "
    "did not give is added at the end."
)


def advice(ctx: Context) -> Section:
    """Section 11: a table mapping each piece of the tutorial's advice to trainlab's feature; every feature the table
    names in :data:`CLAIMS` is looked up in trainlab's registries and recipe schema."""
    rows = [[what, how, where] for what, how, where in ADVICE]
    claims = [claim for what, _, _ in ADVICE for claim in CLAIMS.get(what, [])]
    missing = [f"{kind} {name}" for kind, name in claims if not exists(kind, name)]
    checked = (f"all {len(claims)} features it names found" if not missing else
               f"{len(missing)} of {len(claims)} features it names MISSING: {', '.join(missing)}")
    return Section(
        11, "Its closing advice",
        line=f"{len(ADVICE) - 1} pieces of advice, each mapped to the trainlab feature that does it (+1 it missed); "
             + checked,
        story=_STORY,
        tables=[Table(["the tutorial's advice", "what trainlab does", "shown in"], rows)],
        notes=[f"Looked up in trainlab's registries (losses, schedules, callbacks, diagnosis rules) and its recipe "
               f"schema as this section ran: {checked}."],
        values={"advice": len(ADVICE) - 1, "claims": len(claims), "missing": missing},
    )


def exists(kind: str, name: str) -> bool:
    """Whether trainlab has the feature: a registered loss, schedule, callback or diagnosis rule, or a recipe key."""
    if kind == "key":
        return _has_key(name)
    from trainlab import callbacks, diagnose, losses, schedules  # in a lane: TensorFlow stays out of the tour's process

    if kind == "rule":
        return name in diagnose.RULES
    return name in {"loss": losses.registry, "schedule": schedules.registry, "callback": callbacks.registry}[kind]


def _has_key(path: str) -> bool:
    from pydantic import BaseModel

    from trainlab.config import Recipe  # in a lane: TensorFlow stays out of the tour's process

    model: Any = Recipe
    for part in path.split("."):
        if model is None or part not in model.model_fields:
            return False
        annotation = model.model_fields[part].annotation
        model = next((t for t in (annotation, *typing.get_args(annotation))
                      if isinstance(t, type) and issubclass(t, BaseModel)), None)
    return True
