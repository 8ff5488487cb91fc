"""Section 11: the tutorial's closing advice, each piece mapped to the trainlab feature that does it."""

from __future__ import annotations

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

_STORY = (
    "The tutorial closed with nine pieces of advice. Each one is a feature of trainlab, on by default where it "
    "can be; the table says which, and where this tour showed it. One piece of advice the tutorial needed and "
    "did not give is added at the end."
)


def advice(ctx: Context) -> Section:
    """Section 11: a table mapping each piece of the tutorial's advice to trainlab's feature."""
    rows = [[what, how, where] for what, how, where in ADVICE]
    return Section(
        11, "Its closing advice",
        line=f"{len(ADVICE) - 1} pieces of advice, each mapped to the trainlab feature that does it (+1 it missed)",
        story=_STORY,
        tables=[Table(["the tutorial's advice", "what trainlab does", "shown in"], rows)],
        values={"advice": len(ADVICE) - 1},
    )
