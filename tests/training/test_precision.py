"""Loss scaling and mixed precision: the engine against Keras ``fit`` (which scales the loss and wraps the optimizer)."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import trainlab
from trainlab import rundir
from trainlab.errors import TrainlabError
from trainlab.training.engine import Engine, Member


def _data(n=96, d=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x[:, :1] + 0.3 * rng.normal(size=(n, 1)) > 0).astype("float32")
    return x, y


def _model(seed, policy=None, output_scale=None):
    """A small MLP built under ``policy`` (the global policy put back afterwards), its output layer in float32;
    with ``output_scale``, the output kernel starts at that constant (tiny: the hidden layers' float16 gradients
    underflow to zero unless the loss is scaled)."""
    previous = keras.config.dtype_policy()
    if policy is not None:
        keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(seed)
        return keras.Sequential([
            keras.Input((6,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid", dtype="float32", kernel_initializer=(
                "glorot_uniform" if output_scale is None else keras.initializers.Constant(output_scale))),
        ])
    finally:
        keras.config.set_dtype_policy(previous)


def _keras_fit(model, optimizer, x, y, batch):
    model.compile(optimizer=optimizer, loss="binary_crossentropy")
    model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
    return model.get_weights()


# ------------------------------------------------------------------------------------ regressions
def test_a_static_loss_scale_factor_leaves_the_updates_as_they_were():
    """``optimizer.loss_scale_factor``: Keras' ``apply`` divides the gradients by it, so the step must scale the
    loss by it first (``optimizer.scale_loss``), as ``fit`` does; the records are of the unscaled loss and
    gradient. (Before the fix the engine never scaled the loss: SGD's updates shrank 1024-fold.)"""
    x, y = _data()
    plain = Member(_model(3), keras.optimizers.SGD(0.1), keras.losses.BinaryCrossentropy())
    scaled = Member(_model(3), keras.optimizers.SGD(0.1, loss_scale_factor=1024.0), keras.losses.BinaryCrossentropy())
    order = np.arange(96, dtype="int32")
    ours = Engine([scaled], batch_size=16).train_epoch(tf.constant(x), tf.constant(y), order)
    reference = Engine([plain], batch_size=16).train_epoch(tf.constant(x), tf.constant(y), order)
    np.testing.assert_allclose(ours.loss, reference.loss, rtol=1e-6)
    np.testing.assert_allclose(ours.grad_norm, reference.grad_norm, rtol=1e-6)
    for a, b in zip(scaled.model.get_weights(), plain.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
    fitted = _keras_fit(_model(3), keras.optimizers.SGD(0.1, loss_scale_factor=1024.0), x, y, 16)
    for a, b in zip(scaled.model.get_weights(), fitted):
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)


def test_a_users_mixed_float16_model_gets_the_loss_scale_optimizer_compile_would_give_it(tmp_path):
    """A model built under ``mixed_float16`` trains with dynamic loss scaling (``keras.optimizers.LossScaleOptimizer``
    around the recipe's optimizer), as ``model.compile`` wraps it, and to the weights Keras ``fit`` gives."""
    model = _model(5, "mixed_float16", output_scale=1e-6)
    initial = model.get_weights()
    recipe = {"seed": 1, "data": {"source": "synthetic_classification", "n_samples": 192, "n_features": 6},
              "optimizer": {"name": "adam", "learning_rate": 0.01, "epsilon": 1e-12},
              "training": {"epochs": 1, "batch_size": 32, "shuffle": False, "verbose": 0, "tensorboard": False,
                           "train_eval_samples": 0}}
    run = trainlab.train(recipe, out=tmp_path / "run", model=model)
    assert isinstance(run.model.optimizer, keras.optimizers.LossScaleOptimizer)
    reference = _model(5, "mixed_float16", output_scale=1e-6)
    reference.set_weights(initial)
    # Adam with a tiny epsilon moves a weight by about the learning rate whatever its gradient's size, unless it is 0.
    fitted = _keras_fit(reference, keras.optimizers.Adam(0.01, epsilon=1e-12), run.data.x_train, run.data.y_train, 32)
    assert isinstance(reference.optimizer, keras.optimizers.LossScaleOptimizer)
    assert np.abs(fitted[0] - initial[0]).max() > 1e-3  # scaled, the first layer's gradients did not underflow
    for a, b in zip(run.model.get_weights(), fitted):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


# ------------------------------------------------------------------------------------ training.precision
def _tiny(precision, **training):
    return {"name": "tiny", "seed": 7, "data": {"source": "synthetic_classification", "n_samples": 200, "n_features": 8},
            "model": {"hidden": [16, 8], "dropout": [0.1, 0.0]}, "optimizer": {"name": "adam", "learning_rate": 0.01},
            "training": {"epochs": 5, "batch_size": 32, "verbose": 0, "tensorboard": False, "precision": precision,
                         **training}}


@pytest.mark.parametrize("precision", ["mixed_float16", "mixed_bfloat16"])
def test_a_recipe_model_is_built_in_its_precision_and_the_policy_does_not_leak(tmp_path, precision):
    run = trainlab.train(_tiny(precision), out=tmp_path / "mixed")
    compute = {layer.name: layer.compute_dtype for layer in run.model.layers}
    assert compute["dense_1"] == precision.removeprefix("mixed_") and compute["output"] == "float32"
    assert all(w.dtype == "float32" for w in run.model.weights)  # the weights stay float32
    scaled = isinstance(run.model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert scaled == (precision == "mixed_float16")  # float16 only: bfloat16 has float32's range
    assert keras.config.dtype_policy().name == "float32"  # put back after building
    assert all(np.isfinite(row["loss"]) and np.isfinite(row["grad_norm"]) for row in run.history)
    plain = trainlab.train(_tiny("float32"), out=tmp_path / "plain")  # the next run of the process
    assert {layer.compute_dtype for layer in plain.model.layers} == {"float32"}
    assert not isinstance(plain.model.optimizer, keras.optimizers.LossScaleOptimizer)
    assert plain.history[-1]["val_accuracy"] >= 0.7
    assert abs(run.history[-1]["val_accuracy"] - plain.history[-1]["val_accuracy"]) <= 0.05  # 2 of 40 samples


def _overflowing(initial_scale=2.0**24, seed=0, policy="mixed_float16", middle=None):
    """A member with SGD in a LossScaleOptimizer whose initial scale (2^24) makes the first float16 gradients
    overflow; ``middle``: a layer between the two Dense layers."""
    previous = keras.config.dtype_policy()
    keras.config.set_dtype_policy(policy)
    try:
        keras.utils.set_random_seed(seed)
        model = keras.Sequential([
            keras.Input((6,)), keras.layers.Dense(8, activation="tanh"), *([middle] if middle else []),
            keras.layers.Dense(1, activation="sigmoid", dtype="float32"),
        ])
    finally:
        keras.config.set_dtype_policy(previous)
    optimizer = keras.optimizers.LossScaleOptimizer(keras.optimizers.SGD(0.1), initial_scale=initial_scale)
    return Member(model, optimizer, keras.losses.BinaryCrossentropy())


def test_a_step_whose_scaled_gradients_overflow_is_skipped_and_marked():
    x, y = (tf.constant(a) for a in _data())
    member = _overflowing()
    engine = Engine([member], batch_size=8)
    before = member.model.get_weights()
    steps = engine.train_epoch(x, y, np.arange(96, dtype="int32"))
    skipped = steps.skipped(0)
    assert skipped[0] and not skipped[-1]  # the scale came down until the gradients fit float16
    first_applied = int(np.argmin(skipped))
    assert skipped[:first_applied].all()
    np.testing.assert_array_equal(steps.loss_scale[: first_applied + 1, 0], 2.0**24 / 2.0 ** np.arange(first_applied + 1))
    assert not np.isfinite(steps.grad_norm[skipped, 0]).any() and np.isfinite(steps.grad_norm[~skipped, 0]).all()
    assert np.isfinite(steps.loss).all()  # the loss is computed before the gradient: it is fine
    logs = engine.train_logs(steps)[0]
    assert np.isfinite(logs["grad_norm"]) and logs["grad_norm"] == pytest.approx(steps.grad_norm[~skipped, 0].mean())
    assert float(member.optimizer.dynamic_scale) == 2.0**24 / 2.0**first_applied
    assert int(member.optimizer.iterations) == len(skipped) - first_applied  # a skipped step is not an update
    # What was applied is what Keras' LossScaleOptimizer applies to these gradients: from the same start, the same
    # scale and the same batches, Keras' own train step (compile + fit) ends with the same weights.
    reference = _overflowing()
    reference.model.set_weights(before)
    reference.model.compile(optimizer=reference.optimizer, loss="binary_crossentropy")
    reference.model.fit(x, y, batch_size=8, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(member.model.get_weights(), reference.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_xla_skips_the_steps_the_graph_skips():
    x, y = (tf.constant(a) for a in _data())
    plain = Engine([_overflowing()], batch_size=8).train_epoch(x, y, seed=(1, 2))
    xla = Engine([_overflowing()], batch_size=8, jit_compile=True).train_epoch(x, y, seed=(1, 2))
    np.testing.assert_array_equal(xla.overflow, plain.overflow)
    np.testing.assert_allclose(xla.loss, plain.loss, rtol=1e-5)


def test_non_finite_gradients_at_a_scale_of_one_are_not_an_overflow():
    """At a loss scale <= 1 the gradients overflow unscaled: a non-finite value of training's (rolled back by the
    loop), not something loss scaling can fix."""
    x, y = (tf.constant(a) for a in _data())
    # sqrt at 0: a finite loss, an infinite derivative; times relu's zero derivative there, NaN gradients.
    nan_gradient = keras.layers.Lambda(lambda t: keras.ops.sqrt(keras.ops.relu(t - 1.0)))
    for scale, skipped in ((4.0, True), (1.0, False)):
        member = _overflowing(initial_scale=scale, policy="float32", middle=nan_gradient)
        steps = Engine([member], batch_size=96).train_epoch(x, y)
        assert np.isfinite(steps.loss[0, 0]) and not np.isfinite(steps.grad_norm[0, 0])
        assert steps.skipped(0)[0] == skipped


def test_fused_members_scale_their_losses_each_as_they_would_alone():
    x, y = (tf.constant(a) for a in _data())
    order = np.arange(96, dtype="int32")
    fused = Engine([_overflowing(seed=1), _overflowing(seed=2, initial_scale=2.0**10)], batch_size=16)
    alone = [Engine([_overflowing(seed=1)], batch_size=16),
             Engine([_overflowing(seed=2, initial_scale=2.0**10)], batch_size=16)]
    steps = fused.train_epoch(x, y, order)
    assert steps.skipped(0).any() and not steps.skipped(1).any()
    for k, engine in enumerate(alone):
        single = engine.train_epoch(x, y, order)
        np.testing.assert_array_equal(steps.overflow[:, k], single.overflow[:, 0])
        np.testing.assert_array_equal(steps.loss_scale[:, k], single.loss_scale[:, 0])
        for a, b in zip(fused.members[k].model.get_weights(), engine.members[0].model.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def _regression(**training):
    """Targets in the hundreds: the first float16 gradients overflow at the default loss scale."""
    return {"name": "overflow", "seed": 7, "deterministic": True,
            "data": {"source": "synthetic_regression", "n_samples": 200, "n_features": 8},
            "model": {"hidden": [16, 8], "dropout": 0.0},
            "training": {"epochs": 4, "batch_size": 32, "verbose": 0, "tensorboard": False,
                         "precision": "mixed_float16", **training}}


def test_overflow_skips_are_events_of_their_own_not_rollbacks(tmp_path):
    run = trainlab.train(_regression(), out=tmp_path / "run")
    events = rundir.read_csv(run.dir / "events.csv")
    assert events and {e["action"] for e in events} == {"skip_step"}
    scales = [float(e["what"].split("scale -> ")[1].rstrip(")")) for e in events]
    np.testing.assert_array_equal(scales, 2.0**15 / 2.0 ** np.arange(1, len(events) + 1))  # halved each time
    steps = {int(r["step"]): r for r in rundir.read_csv(run.dir / "steps.csv")}
    assert all(not np.isfinite(float(steps[int(e["step"])]["grad_norm"])) for e in events)
    assert run.summary["status"] == "completed"
    assert not [f for f in run.summary["diagnosis"] if f["rule"] == "nonfinite"]
    assert float(run.model.optimizer.dynamic_scale) == scales[-1]


def test_a_mixed_precision_run_resumes_exactly_with_its_loss_scale(tmp_path):
    from test_resume import _stopped_at, assert_same_run  # noqa: PLC0415 (a helper of the tests beside this one)
    from trainlab.training import checkpoint  # noqa: PLC0415

    try:
        finished = trainlab.train(_regression(checkpoint={"every_steps": 3, "keep": 100}), out=tmp_path / "run")
        layout = checkpoint.read(checkpoint.files(finished.dir)[0]).meta["variables"]
        paths = [path for path, _, _ in layout]
        assert any(p.endswith("dynamic_scale") for p in paths) and any(p.endswith("step_counter") for p in paths)
        names = [p.name for p in checkpoint.files(finished.dir)]
        # one before the scale's last change, one after (the same file when the writer kept few under load)
        for name in dict.fromkeys((names[1], names[len(names) // 2])):
            assert_same_run(finished, trainlab.resume(_stopped_at(finished, tmp_path, name)))
    finally:
        from tensorflow.python.framework import config  # noqa: PLC0415 (TensorFlow exports no switch back)

        config.disable_op_determinism()


def test_a_users_model_trains_in_the_policy_it_was_built_with(tmp_path):
    recipe = {"seed": 1, "data": {"source": "synthetic_classification", "n_samples": 96, "n_features": 6},
              "training": {"epochs": 1, "batch_size": 32, "verbose": 0, "tensorboard": False}}
    run = trainlab.train(recipe, out=tmp_path / "run", model=_model(0, "mixed_bfloat16"))
    assert run.recipe.training.precision == "mixed_bfloat16"  # the recipe.yaml says what trained
    asked = {**recipe, "training": {**recipe["training"], "precision": "mixed_float16"}}
    with pytest.raises(TrainlabError, match=r"^training\.precision: a model given from Python trains in the dtype"
                       r" policy it was built with \(float32\); build it under .*, got 'mixed_float16'$"):
        trainlab.train(asked, out=tmp_path / "refused", model=_model(0))
    assert not (tmp_path / "refused").exists()
