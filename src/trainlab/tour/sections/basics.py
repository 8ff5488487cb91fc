"""Sections 1-3: losses, optimizers raced, learning-rate schedules (nothing trains a model here)."""

from __future__ import annotations

import numpy as np

from trainlab.tour.sections import facts as tutorial
from trainlab.tour.section import Compared, Context, Figure, Section, Table, num, png, png_file, relative

_LOSS_STORY = (
    "The tutorial computed each loss on five hand-made examples: binary cross-entropy on probabilities and on "
    "logits, sparse and one-hot categorical cross-entropy, four regression losses, and a focal loss of its own "
    "for class imbalance. Two things were wrong. Its focal loss averaged the cross-entropy over the batch "
    "before weighting each element, and printed 0.0029397 instead of 0.0036009. Its regression example "
    "called tf.keras.losses.mean_squared_error and similar functions, which current Keras no longer has, "
    "so it crashed. trainlab computes every value below with trainlab.losses.build, the same losses a "
    "recipe's loss: key names."
)


def losses(ctx: Context) -> Section:
    """Section 1: every loss value the tutorial printed, computed with ``trainlab.losses``."""
    import keras
    import tensorflow as tf

    from trainlab import losses as tl_losses  # in a lane: TensorFlow stays out of the tour's process

    def value(spec, y_true, y_pred) -> float:
        return float(tl_losses.build(spec)(np.asarray(y_true), np.asarray(y_pred)))

    def per_sample(spec, y_true, y_pred) -> list[float]:
        # A Keras loss's call() gives the unreduced value of each sample.
        return [float(v) for v in np.asarray(tl_losses.build(spec).call(np.asarray(y_true), np.asarray(y_pred)))]

    yb, pb, lb = tutorial.BINARY_TRUE, tutorial.BINARY_PROBABILITIES, tutorial.BINARY_LOGITS
    yr, pr = tutorial.REGRESSION_TRUE, tutorial.REGRESSION_PRED
    labels, logits = np.asarray(tutorial.CLASS_LABELS), np.asarray(tutorial.CLASS_LOGITS)
    one_hot = np.eye(3)[labels]
    computed = {
        "binary cross-entropy (probabilities)": value("binary_crossentropy", yb, pb),
        "binary cross-entropy (logits)": value({"name": "binary_crossentropy", "from_logits": True}, yb, lb),
        "mean squared error": value("mse", yr, pr),
        "mean absolute error": value("mae", yr, pr),
        "Huber (delta 1)": value({"name": "huber", "delta": 1.0}, yr, pr),
        "mean squared logarithmic error": value("msle", yr, pr),
    }
    sparse = per_sample({"name": "sparse_categorical_crossentropy", "from_logits": True}, labels, logits)
    categorical = per_sample({"name": "categorical_crossentropy", "from_logits": True}, one_hot, logits)
    focal = focal_value(yb, pb)
    correct = _correct_focal(np.asarray(yb), np.asarray(pb), alpha=0.25, gamma=2.0)
    buggy = _tutorial_focal(np.asarray(yb), np.asarray(pb), alpha=0.25, gamma=2.0)
    focal_fixed = abs(focal - correct) <= tutorial.LOSS_TOLERANCE
    focal_logits = value({"name": "focal", "from_logits": True}, yb, lb)
    focal_sigmoid = value("focal", yb, 1.0 / (1.0 + np.exp(-np.asarray(lb))))
    sparse_focal = per_sample({"name": "sparse_categorical_focal", "from_logits": True}, labels, logits)
    categorical_focal = per_sample({"name": "categorical_focal", "from_logits": True}, one_hot, logits)
    removed = {name: hasattr(tf.keras.losses, name) for name in tutorial.REMOVED_LOSS_FUNCTIONS}
    keras_has = {name: hasattr(keras.losses, name) for name in tutorial.REMOVED_LOSS_FUNCTIONS}

    tol = tutorial.LOSS_TOLERANCE
    compared = [Compared(what, num(tutorial.LOSSES[what], 5), num(v, 5), _verdict(v, tutorial.LOSSES[what], tol))
                for what, v in computed.items()]
    compared.append(Compared(
        "sparse categorical cross-entropy per sample (logits)", _vector(tutorial.SPARSE_PER_SAMPLE),
        _vector(sparse), _verdict(sparse, tutorial.SPARSE_PER_SAMPLE, tol)))
    compared.append(Compared(
        "categorical cross-entropy per sample (one-hot labels)", _vector(tutorial.SPARSE_PER_SAMPLE),
        _vector(categorical), _verdict(categorical, tutorial.SPARSE_PER_SAMPLE, tol),
        "the same as the sparse form, as the tutorial says"))
    compared.append(Compared(
        "focal loss (alpha 0.25, gamma 2)", num(tutorial.FOCAL_PRINTED, 5), num(focal, 5),
        "fixed" if focal_fixed else "differs",
        f"the tutorial's bug: averaging the cross-entropy over the batch first and then weighting gives "
        f"{buggy:.7f} (recomputed here), its printed value; each element weighted first gives {correct:.7f} "
        f"(recomputed here; Keras' BinaryFocalCrossentropy(apply_class_balancing=True) gives "
        f"{tutorial.FOCAL_CORRECT}): trainlab's value " + ("agrees" if focal_fixed else f"does NOT agree, to {tol:g}")))
    for name, present in removed.items():
        compared.append(Compared(
            f"tf.keras.losses.{name}", "called (crashes)", "exists" if present else "AttributeError",
            "same" if present else "fixed",
            (f"keras.losses.{name} exists; in a recipe write loss: {_alias(name)}" if keras_has[name]
             else f"in a recipe write loss: {_alias(name)}")))
    forms = Table(
        ["loss (trainlab.losses.build)", "input", "value"],
        [["{name: focal, from_logits: true}", "the binary logits", num(focal_logits, 5)],
         ["{name: focal}", "sigmoid of the same logits", num(focal_sigmoid, 5)],
         ["{name: sparse_categorical_focal, from_logits: true}", "class indices, logits (per sample)",
          _vector(sparse_focal)],
         ["{name: categorical_focal, from_logits: true}", "one-hot labels, logits (per sample)",
          _vector(categorical_focal)]],
        "The forms of the focal loss the tutorial asked for but did not write: from logits (equal to the "
        "probability form on the sigmoid of the logits) and multi-class (integer or one-hot labels, the same "
        "values).")
    printed = compared[:len(computed) + 2]  # the values the tutorial printed right (the focal loss apart)
    matched = sum(c.verdict == "same" for c in printed)
    checked = len(printed)
    section = Section(
        1, "Loss functions",
        line=(f"{matched} of {checked} printed values match to {tol:g}; focal {focal:.5f} "
              + (f"(the tutorial's bug: {tutorial.FOCAL_PRINTED}); " if focal_fixed else
                 f"does NOT match the correct {correct:.5f}; ")
              + f"{sum(not v for v in removed.values())} removed tf.keras names replaced"),
        story=_LOSS_STORY, compared=compared, tables=[forms],
        figures=[Figure("Focal loss against cross-entropy", png(_focal_figure()),
                        "The loss of one positive example as the probability it is given rises: gamma 0 is "
                        "alpha-weighted cross-entropy; larger gamma turns the loss of easy, well-classified "
                        "examples down, which is what a focal loss is for.")],
        values={"losses": computed, "sparse_per_sample": sparse, "categorical_per_sample": categorical,
                "focal": focal, "focal_correct": correct, "focal_tutorial_formula": buggy,
                "focal_from_logits": focal_logits,
                "focal_on_sigmoid": focal_sigmoid, "sparse_focal": sparse_focal,
                "categorical_focal": categorical_focal, "tf_keras_has": removed, "keras_has": keras_has},
    )
    return section


def focal_value(y_true: list[float], y_pred: list[float]) -> float:
    """trainlab's focal loss (alpha 0.25, gamma 2) on the tutorial's binary example."""
    from trainlab import losses as tl_losses  # in a lane: TensorFlow stays out of the tour's process

    return float(tl_losses.build({"name": "focal", "alpha": 0.25, "gamma": 2.0})(np.asarray(y_true),
                                                                                   np.asarray(y_pred)))


def _correct_focal(y: np.ndarray, p: np.ndarray, alpha: float, gamma: float) -> float:
    """The focal loss by its definition (Lin et al. 2017): each element's cross-entropy weighted, then the mean."""
    cross_entropy = -(y * np.log(p) + (1 - y) * np.log(1 - p))
    p_true = y * p + (1 - y) * (1 - p)
    alpha_true = y * alpha + (1 - y) * (1 - alpha)
    return float(np.mean(alpha_true * (1 - p_true) ** gamma * cross_entropy))


def _tutorial_focal(y: np.ndarray, p: np.ndarray, alpha: float, gamma: float) -> float:
    """The tutorial's focal loss, to show where its number came from: the cross-entropy is averaged over the
    batch first (one scalar), and only then weighted element by element."""
    cross_entropy = np.mean(-(y * np.log(p) + (1 - y) * np.log(1 - p)))
    p_true = y * p + (1 - y) * (1 - p)
    alpha_true = y * alpha + (1 - y) * (1 - alpha)
    return float(np.mean(alpha_true * (1 - p_true) ** gamma * cross_entropy))


def _focal_figure():
    from matplotlib.figure import Figure as MplFigure

    from trainlab import losses as tl_losses  # in a lane: TensorFlow stays out of the tour's process

    p = np.linspace(0.01, 0.99, 99)
    figure = MplFigure(figsize=(7.5, 4.0), dpi=100, layout="constrained")
    ax = figure.subplots()
    ones = np.ones_like(p)
    ax.plot(p, np.asarray(tl_losses.build("binary_crossentropy").call(ones[:, None], p[:, None])),
            color="black", lw=1.6, ls="--", label="binary cross-entropy")
    for i, gamma in enumerate((0.0, 1.0, 2.0, 5.0)):
        loss = tl_losses.build({"name": "focal", "alpha": 0.25, "gamma": gamma})
        ax.plot(p, np.asarray(loss.call(ones[:, None], p[:, None])), color=f"C{i}", lw=1.6,
                label=f"focal, alpha 0.25, gamma {gamma:g}")
    ax.set_yscale("log")
    ax.set_ylim(1e-6, 10)
    ax.set_xlabel("probability given to the true class (p_t)")
    ax.set_ylabel("loss of one example")
    ax.set_title("Focal loss (trainlab.losses.build({'name': 'focal', ...})) for one positive example")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    return figure


def _verdict(value, expected, tol: float) -> str:
    diff = np.max(np.abs(np.asarray(value, float) - np.asarray(expected, float)))
    return "same" if diff <= tol else "differs"


def _vector(values) -> str:
    return "[" + ", ".join(f"{v:.5f}" for v in values) + "]"


def _alias(name: str) -> str:
    return {"mean_squared_error": "mse", "mean_absolute_error": "mae",
            "mean_squared_logarithmic_error": "msle"}.get(name, name)


# ----------------------------------------------------------------------------------------------- section 2
_RACE_STORY = (
    "The tutorial minimized f(x) = sum((x - 2)^2) from (0, 0) with SGD, SGD with momentum 0.9, Adam, RMSprop "
    "and Adagrad, 50 eager steps each at learning rate 0.1, and plotted the losses on a log scale. Nothing was "
    "wrong with the code, but one convex bowl at one rate ranks optimizers on the one function where plain "
    "gradient descent is already ideal. trainlab.optimizers.race runs the same race, every pair in one "
    "compiled program, on the tutorial's bowl and on three harder functions, and says when each optimizer "
    "got the loss below 0.001 or diverged."
)


def optimizers(ctx: Context) -> Section:
    """Section 2: ``trainlab.optimizers.race`` on the tutorial's quadratic (and three harder functions)."""
    from trainlab.tools.race import race  # in a lane: TensorFlow stays out of the tour's process

    functions = ["quadratic"] if ctx.quick else ["quadratic", "rosenbrock", "ill_conditioned", "beale"]
    result = race(tutorial.RACE_OPTIMIZERS, functions, steps=tutorial.RACE_STEPS,
                  learning_rate=tutorial.RACE_LEARNING_RATE, tol=1e-3)
    folder = result.save(ctx.folder("02-race"))
    to_tol, final, diverged = result.steps_to_tol, result.final_loss, result.diverged_at
    closed_form = 8 * (1 - 2 * tutorial.RACE_LEARNING_RATE) ** (2 * tutorial.RACE_STEPS)
    rows = []
    for function in functions:
        cells = []
        for opt in tutorial.RACE_OPTIMIZERS:
            pair = (opt, function)
            if to_tol[pair] is not None:
                cells.append(f"step {to_tol[pair]} (final {final[pair]:.1e})")
            elif diverged[pair] is not None:
                cells.append(f"diverged at step {diverged[pair]}")
            else:
                cells.append(f"not reached (final {final[pair]:.2g})")
        rows.append([function, *cells])
    quadratic = {opt: to_tol[(opt, "quadratic")] for opt in tutorial.RACE_OPTIMIZERS}
    fastest = min(((s, o) for o, s in quadratic.items() if s is not None), default=(None, None))[1]
    compared = [
        Compared("SGD on the quadratic: loss after 50 steps", "plotted", f"{final[('sgd', 'quadratic')]:.3e}",
                 "new", f"the closed form 8 (1 - 2 lr)^(2t) gives {closed_form:.3e}"),
        Compared("steps to loss < 0.001 on the quadratic", "plotted",
                 ", ".join(f"{o} {s if s is not None else 'never'}" for o, s in quadratic.items()), "new",
                 "Adagrad's steps shrink too fast to get there in 50 steps" if quadratic["adagrad"] is None else
                 f"Adagrad gets there at step {quadratic['adagrad']}"),
        Compared(f"50 steps x 5 optimizers x {len(functions)} function{'s' if len(functions) > 1 else ''}",
                 "1 function, eager loop", "one compiled program", "new"),
    ]
    return Section(
        2, "Optimizers compared",
        line=((f"quadratic: {fastest} first below 1e-3 (step {quadratic[fastest]})" if fastest else
               "quadratic: none below 1e-3") + f", SGD at step {quadratic['sgd'] or 'never'}, "
              f"Adagrad {quadratic['adagrad'] or 'never'}; {len(functions)} "
              f"function{'s' if len(functions) > 1 else ''} x 5 optimizers raced"),
        story=_RACE_STORY, compared=compared,
        tables=[Table(["function", *tutorial.RACE_OPTIMIZERS], rows,
                      race_caption(functions, to_tol, final, diverged, closed_form)
                      + (" (--quick races the tutorial's bowl only.)" if ctx.quick else ""))],
        figures=png_file(folder / "race.png", "Optimizers raced",
                         "Loss per step on a log axis, one panel per function; the dashed line is 0.001."),
        links=[("race.json and race.png", relative(ctx, folder))],
        values={"steps_to_tol": {f"{o}/{f}": s for (o, f), s in to_tol.items()},
                "final_loss": {f"{o}/{f}": v for (o, f), v in final.items()}, "sgd_closed_form": closed_form},
    )


def race_caption(functions: list[str], to_tol: dict, final: dict, diverged: dict, closed_form: float) -> str:
    """The race table's caption, from the race's numbers: who got below 0.001 first on the bowl, whether SGD
    followed its closed form (within 5%), and per other function who diverged and who got there."""
    names = tutorial.RACE_OPTIMIZERS
    reached = sorted((to_tol[(o, "quadratic")], o) for o in names if to_tol[(o, "quadratic")] is not None)
    sgd = final[("sgd", "quadratic")]
    parts = [f"On the bowl, {reached[0][1]} gets there first (step {reached[0][0]})" if reached else
             "On the bowl, none gets there",
             f"SGD follows its closed form ({sgd:.3e} against {closed_form:.3e})"
             if abs(sgd - closed_form) <= 0.05 * closed_form else
             f"SGD does NOT follow its closed form ({sgd:.3e} against {closed_form:.3e})"]
    for function in functions:
        if function == "quadratic":
            continue
        gone = [o for o in names if diverged[(o, function)] is not None]
        there = [o for o in names if to_tol[(o, function)] is not None]
        parts.append(f"on {function}, {', '.join(gone) or 'none'} diverge{'s' if len(gone) == 1 else ''} at this "
                     f"rate and {', '.join(there) or 'none'} get{'s' if len(there) == 1 else ''} below 0.001")
    return "The step at which each optimizer got the loss below 0.001 (and its loss after 50 steps). " + \
        "; ".join(parts) + "."


# ----------------------------------------------------------------------------------------------- section 3
_SCHEDULE_STORY = (
    "The tutorial plotted four Keras schedules over 500 steps (exponential with staircase, polynomial, "
    "piecewise constant, cosine) and wrote its own warm-up-then-cosine schedule. That class failed three "
    "ways: called with a plain Python integer step it returned a float with no .numpy(); it had no "
    "get_config, so a model whose optimizer used it could not be saved; and an empty warm-up divided by zero "
    "at step 0. trainlab's warmup_cosine is a pure function of the step with a serializable Keras adapter; "
    "below, trainlab.schedules.plot draws the tutorial's five, and each bug is checked. (Keras' own "
    "CosineDecay has a warm-up too, through warmup_target and warmup_steps: it gives the same rates.)"
)

# Bare names plot the tutorial's example of each schedule (see docs/tools.md).
_TUTORIAL_SCHEDULES = ["exponential", "polynomial", "piecewise", "cosine", "warmup_cosine"]
_KERAS_WARMUP_COSINE = {"name": "cosine", "initial_learning_rate": 0.0, "decay_steps": 900, "alpha": 0.1,
                        "warmup_target": 0.001, "warmup_steps": 100}


def schedules(ctx: Context) -> Section:
    """Section 3: ``trainlab.schedules.plot`` of the tutorial's schedules; the custom schedule's bugs checked."""
    import keras

    from trainlab import schedules as tl_schedules  # in a lane: TensorFlow stays out of the tour's process
    from trainlab.tools import schedule_plot  # in a lane: TensorFlow stays out of the tour's process

    folder = ctx.folder("03-schedules")
    folder.mkdir(parents=True, exist_ok=False)
    figure = schedule_plot.plot([*_TUTORIAL_SCHEDULES, _KERAS_WARMUP_COSINE], 500)
    path = schedule_plot.save_png(figure, folder / "schedules.png")
    spec = dict(tutorial.WARMUP_COSINE)
    schedule = tl_schedules.build(spec)
    int_step = schedule(50)  # a plain Python integer
    rate_at_50 = float(int_step.numpy())
    halfway = spec["initial_learning_rate"] * 50 / spec["warmup_steps"]  # the linear warm-up at step 50
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    steps = [0, 50, 100, 300, 550, 1000, 1200]
    ours = tl_schedules.evaluate(schedule, 1201)
    round_trip = bool(np.allclose(tl_schedules.evaluate(restored, 1201), ours, rtol=0, atol=1e-9))
    saved = _save_and_load(schedule, folder / "warmup_cosine_model.keras")
    empty = tl_schedules.build({**spec, "warmup_steps": 0})
    empty_at_0 = float(empty(0).numpy())
    theirs = tl_schedules.evaluate(tl_schedules.build(_KERAS_WARMUP_COSINE), 1201)
    keras_difference = float(np.max(np.abs(ours - theirs)))
    compared = [
        Compared("custom schedule at step 50 (a Python int)", "float has no .numpy() (crash)",
                 f"{rate_at_50:g}", "fixed" if abs(rate_at_50 - halfway) <= 1e-9 else "differs",
                 "a tensor for any step: int, NumPy, tensor, inside tf.function; halfway up the warm-up is "
                 f"{halfway:g}"),
        Compared("get_config / from_config", "no get_config", "round trip equal" if round_trip else "differs",
                 "fixed" if round_trip else "differs", "serialized with keras.optimizers.schedules.serialize"),
        Compared("a model whose Adam uses it, saved and loaded", "cannot be saved",
                 "saved and loaded" if saved else "failed", "fixed" if saved else "differs",
                 "model.keras, the optimizer's schedule restored"),
        Compared("warm-up of 0 steps, rate at step 0", "division by zero", f"{empty_at_0:g}",
                 "fixed" if np.isfinite(empty_at_0) else "differs", "the decay starts at once"),
        Compared("trainlab warmup_cosine vs Keras CosineDecay(warmup_target=...)", "–",
                 f"max difference {keras_difference:.1e}", "new", "over steps 0-1200"),
    ]
    table = Table(["step", *[str(s) for s in steps]],
                  [["warmup_cosine (trainlab)", *[f"{ours[s]:.3g}" for s in steps]],
                   ["CosineDecay with warm-up (Keras)", *[f"{theirs[s]:.3g}" for s in steps]]],
                  "The custom schedule: a linear rise to 1e-3 over 100 steps, a cosine to 1e-4 at step 1000, "
                  "and the floor after that.")
    return Section(
        3, "Learning-rate schedules",
        line=(f"5 tutorial schedules + Keras' warm-up cosine plotted; custom schedule: int step {rate_at_50:g}, "
              f"config round trip {'ok' if round_trip else 'FAILED'}, save {'ok' if saved else 'FAILED'}, "
              f"empty warm-up {empty_at_0:g}"),
        story=_SCHEDULE_STORY, compared=compared, tables=[table],
        figures=[Figure("Learning-rate schedules", path.read_bytes(),
                        "trainlab.schedules.plot: the tutorial's four Keras schedules and its warm-up cosine over "
                        "500 steps, and Keras' own CosineDecay with a warm-up for comparison.")],
        links=[("schedules.png and the saved model", relative(ctx, folder))],
        values={"rate_at_50": rate_at_50, "round_trip": round_trip, "saved": saved, "empty_warmup_at_0": empty_at_0,
                "keras_max_difference": keras_difference},
    )


def _save_and_load(schedule, path) -> bool:
    """Save a tiny model whose Adam uses ``schedule`` and load it back: is the schedule the same?"""
    import keras

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=schedule), loss="mse")
    model.optimizer.build(model.trainable_variables)  # saved with its (untrained) state, as after fit
    model.save(path)
    loaded = keras.models.load_model(path)
    # The optimizer's config holds its schedule, serialized: the class and the arguments.
    return loaded.optimizer.get_config()["learning_rate"] == model.optimizer.get_config()["learning_rate"]
