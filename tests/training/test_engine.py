"""The engine against plain TensorFlow/Keras: same batches, same numbers."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from trainlab import metrics
from trainlab.models import build_mlp
from trainlab.training.engine import Engine, Member


def _data(n=96, d=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x[:, :1] + 0.3 * rng.normal(size=(n, 1)) > 0).astype("float32")
    return tf.constant(x), tf.constant(y)


def _member(seed, clipnorm=None, l2=0.0, dropout=0.0, lr=1e-2):
    keras.utils.set_random_seed(seed)
    model = build_mlp(6, 1, hidden=[8, 4], dropout=dropout, kernel_regularizer={"l2": l2})
    kw = {"clipnorm": clipnorm} if clipnorm else {}
    return Member(
        model, keras.optimizers.SGD(lr, **kw), keras.losses.BinaryCrossentropy(),
        [metrics.build("accuracy", "binary", False)], [metrics.build("accuracy", "binary", False)],
    )


def _reference_epoch(member, x, y, order, batch):
    """A plain eager GradientTape loop over the same batches; returns losses and pre-clip norms."""
    losses, norms = [], []
    for lo in range(0, len(order), batch):
        idx = order[lo:lo + batch]
        xb, yb = tf.gather(x, idx), tf.gather(y, idx)
        with tf.GradientTape() as tape:
            loss = member.loss(yb, member.model(xb, training=True))
            if member.model.losses:
                loss += tf.add_n(member.model.losses)
        grads = tape.gradient(loss, member.model.trainable_variables)
        norms.append(float(tf.linalg.global_norm(grads)))
        member.optimizer.apply(grads, member.model.trainable_variables)
        losses.append(float(loss))
    return np.array(losses), np.array(norms)


@pytest.mark.parametrize("clipnorm, l2", [(None, 0.0), (0.05, 1e-3)])
def test_epoch_matches_an_eager_loop_step_by_step(clipnorm, l2):
    x, y = _data()
    order = np.random.default_rng(1).permutation(96).astype("int32")
    ours, ref = _member(3, clipnorm, l2), _member(3, clipnorm, l2)
    engine = Engine([ours], batch_size=20)  # 96 = 4 x 20 + 16: a short last batch
    steps = engine.train_epoch(x, y, order)
    ref.optimizer.build(ref.model.trainable_variables)
    ref_losses, ref_norms = _reference_epoch(ref, x, y, order, 20)
    np.testing.assert_allclose(steps.loss[:, 0], ref_losses, rtol=1e-5)
    np.testing.assert_allclose(steps.grad_norm[:, 0], ref_norms, rtol=1e-5)
    for a, b in zip(ours.model.get_weights(), ref.model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    logs = engine.train_logs(steps)[0]
    weights = np.array([20, 20, 20, 20, 16])
    assert logs["loss"] == pytest.approx(np.sum(ref_losses * weights) / 96, rel=1e-5)
    assert logs["grad_norm"] == pytest.approx(ref_norms.mean(), rel=1e-5)
    assert logs["grad_norm_max"] == pytest.approx(ref_norms.max(), rel=1e-5)
    np.testing.assert_allclose(steps.lr[:, 0], 1e-2, rtol=1e-6)


def test_clipping_bounds_the_update_but_not_the_recorded_norm():
    x, y = _data()
    order = np.arange(96, dtype="int32")
    member = _member(0, clipnorm=1e-3, lr=1.0)
    before = [w.copy() for w in member.model.get_weights()]
    steps = Engine([member], batch_size=96).train_epoch(x, y, order)
    assert steps.grad_norm[0, 0] > 1e-2  # recorded before clipping
    for w0, w1 in zip(before, member.model.get_weights()):
        assert np.linalg.norm(w1 - w0) <= 1e-3 * 1.0001  # each tensor's step is clipped to lr * 1e-3


def test_evaluate_matches_keras_evaluate_with_regularization():
    x, y = _data()
    member = _member(5, l2=1e-2, dropout=0.3)
    engine = Engine([member], batch_size=16, eval_batch_size=40)
    engine.train_epoch(x, y, np.arange(96, dtype="int32"))
    ours = engine.evaluate(x, y)[0]
    member.model.compile(loss="binary_crossentropy", metrics=["accuracy"])
    loss, acc = member.model.evaluate(x, y, batch_size=40, verbose=0)
    assert ours["loss"] == pytest.approx(loss, rel=1e-5)
    assert ours["accuracy"] == pytest.approx(acc)


def test_k_members_in_one_program_equal_separate_runs():
    x, y = _data()
    order = np.random.default_rng(2).permutation(96).astype("int32")
    fused = Engine([_member(1, dropout=0.2), _member(2, l2=1e-3)], batch_size=16)
    singles = [Engine([_member(1, dropout=0.2)], batch_size=16), Engine([_member(2, l2=1e-3)], batch_size=16)]
    for _ in range(2):
        fused_steps = fused.train_epoch(x, y, order)
        single_steps = [e.train_epoch(x, y, order) for e in singles]
    for k, single in enumerate(singles):
        np.testing.assert_allclose(fused_steps.loss[:, k], single_steps[k].loss[:, 0], rtol=1e-4)
        for a, b in zip(fused.members[k].model.get_weights(), single.members[0].model.get_weights()):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_a_stopped_member_freezes_while_the_others_train():
    x, y = _data()
    engine = Engine([_member(1), _member(2)], batch_size=32)
    order = np.arange(96, dtype="int32")
    engine.train_epoch(x, y, order)
    engine.set_active([False, True])
    frozen = [w.copy() for w in engine.members[0].model.get_weights()]
    moving = [w.copy() for w in engine.members[1].model.get_weights()]
    steps = engine.train_epoch(x, y, order)
    assert all(np.array_equal(a, b) for a, b in zip(frozen, engine.members[0].model.get_weights()))
    assert not all(np.array_equal(a, b) for a, b in zip(moving, engine.members[1].model.get_weights()))
    assert np.isnan(steps.loss[:, 0]).all() and np.isfinite(steps.loss[:, 1]).all()


def test_dataset_input_trains_like_arrays():
    x, y = _data()
    order = np.arange(96, dtype="int32")
    a, b = _member(4), _member(4)
    steps_a = Engine([a], batch_size=32).train_epoch(x, y, order)
    steps_b = Engine([b], batch_size=32).train_epoch_dataset(tf.data.Dataset.from_tensor_slices((x, y)).batch(32))
    np.testing.assert_allclose(steps_a.loss, steps_b.loss, rtol=1e-5)


def test_per_layer_gradient_norms_combine_to_the_global_norm():
    x, y = _data()
    member = _member(6)
    engine = Engine([member], batch_size=96)
    steps = engine.train_epoch(x, y, np.arange(96, dtype="int32"))
    layers = engine.layer_grad_norms(steps)[0]
    assert list(layers) == ["dense_1", "dense_2", "output"]
    assert np.sqrt(sum(v**2 for v in layers.values())) == pytest.approx(steps.grad_norm[0, 0], rel=1e-5)


def test_xla_with_dropout_warns():
    with pytest.warns(UserWarning, match="jit_compile with dropout"):
        Engine([_member(0, dropout=0.2)], batch_size=16, jit_compile=True)


def test_xla_trains_like_the_graph():
    x, y = _data()
    order = np.arange(96, dtype="int32")
    plain = Engine([_member(7)], batch_size=32).train_epoch(x, y, order)
    xla = Engine([_member(7)], batch_size=32, jit_compile=True).train_epoch(x, y, order)
    np.testing.assert_allclose(xla.loss, plain.loss, rtol=1e-5)


def test_xla_shuffles_in_the_same_order_as_the_graph():
    """XLA has no shuffle kernel; the engine draws the same stateless order outside it."""
    x, y = _data()
    plain = Engine([_member(7)], batch_size=32).train_epoch(x, y, seed=(3, 1))
    xla = Engine([_member(7)], batch_size=32, jit_compile=True).train_epoch(x, y, seed=(3, 1))
    np.testing.assert_allclose(xla.loss, plain.loss, rtol=1e-5)


def _without_epoch_start(engine, k, flats):
    """Member ``k``'s float32 state less the update ratios' copies of the weights (which training sets itself)."""
    keep = np.concatenate([
        np.full(int(np.prod(shape)), "epoch_start" not in path)
        for path, dtype, shape in engine.state_layout(k) if dtype == "float32"
    ])
    return {**flats, "float32": flats["float32"][keep]}


def test_restore_puts_back_exactly_what_snapshot_kept():
    # All but the update ratios' copies of the weights, which an epoch's first call sets from the weights.
    x, y = _data()
    order = np.arange(96, dtype="int32")
    engine = Engine([_member(1, dropout=0.2), _member(2)], batch_size=32)
    engine.train_epoch(x, y, order)
    engine.snapshot()
    kept = [_without_epoch_start(engine, k, flats) for k, flats in enumerate(engine.read_state())]
    engine.train_epoch(x, y, order)  # weights, slots, iterations, dropout seeds and metrics all move on
    moved = [_without_epoch_start(engine, k, flats) for k, flats in enumerate(engine.read_state())]
    assert not np.array_equal(moved[0]["float32"], kept[0]["float32"])
    engine.restore(0)  # only member 0 goes back
    now = [_without_epoch_start(engine, k, flats) for k, flats in enumerate(engine.read_state())]
    for dtype in kept[0]:
        np.testing.assert_array_equal(now[0][dtype], kept[0][dtype])
        np.testing.assert_array_equal(now[1][dtype], moved[1][dtype])
    # From the restored state member 0 takes the very steps it took the first time.
    again = Engine([_member(1, dropout=0.2)], batch_size=32)
    again.train_epoch(x, y, order)
    reference = again.train_epoch(x, y, order)
    np.testing.assert_array_equal(engine.train_epoch(x, y, order).loss[:, 0], reference.loss[:, 0])


def test_restore_before_any_snapshot_is_refused():
    with pytest.raises(RuntimeError, match="snapshot"):
        Engine([_member(1)], batch_size=32).restore(0)


class _Scaled(keras.layers.Layer):
    """A user's layer with Python control flow on a Python value: built as written, as Keras' fit builds it."""

    def __init__(self, double: bool, **kw):
        super().__init__(**kw)
        self.double = double

    def call(self, inputs, training=None):
        if self.double and training:
            return inputs * 2.0
        return inputs


def test_user_layers_are_built_as_written_and_train_as_in_keras():
    x, y = _data()
    order = np.arange(96, dtype="int32")

    def model():
        keras.utils.set_random_seed(3)
        inputs = keras.Input((6,))
        hidden = _Scaled(True)(keras.layers.Dense(4, activation="relu")(inputs))
        return keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(hidden))

    ours = model()
    engine = Engine([Member(ours, keras.optimizers.SGD(1e-2), keras.losses.BinaryCrossentropy())], batch_size=32)
    engine.train_epoch(x, y, order)
    theirs = model()
    theirs.compile(optimizer=keras.optimizers.SGD(1e-2), loss=keras.losses.BinaryCrossentropy())
    theirs.fit(x.numpy(), y.numpy(), batch_size=32, epochs=1, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("eval_batch, rows", [(1024, 30), (32, 20)])
def test_one_call_gives_each_split_and_the_probe_as_separate_passes_do(eval_batch, rows):
    # Splits evaluated in one compiled call, the probe's activations read off the last split's first batch: the
    # same numbers as an evaluation per split and a probe pass of its own, over one batch or several.
    x, y = _data()
    members = [_member(3, dropout=0.2), _member(4, l2=1e-3)]
    engine = Engine(members, batch_size=20, eval_batch_size=eval_batch)
    engine.train_epoch(x, y, np.arange(96, dtype="int32"))
    assert engine.can_probe_in_eval(rows) and not engine.can_probe_in_eval(eval_batch + 1)
    (first, second), activations = engine.evaluate_splits([(x[:50], y[:50]), (x, y)], rows)
    for got, want in ((first, engine.evaluate(x[:50], y[:50])), (second, engine.evaluate(x, y))):
        for g, w in zip(got, want):
            assert g.keys() == w.keys()
            np.testing.assert_allclose(list(g.values()), list(w.values()), rtol=1e-6)
    assert activations == engine.activation_stats(x[:rows])
    assert set(activations[0]) == {"dense_1", "dense_2", "output"} and all(activations)
    assert engine.evaluate_splits([(x, y)])[1] is None
    with pytest.raises(ValueError, match="cannot read"):
        engine.evaluate_splits([(x, y)], eval_batch + 1)


def test_programs_called_through_their_concrete_functions_give_what_the_functions_give():
    # The engine calls each traced program directly (one lookup per argument signature): every signature, the
    # Python flags included (a fresh epoch or not, shuffled or in order), must pick the program the
    # tf.function would, and a shorter last stretch of steps must not reuse a program that assumed more.
    x, y = _data()
    direct, through = (Engine([_member(5, dropout=0.2), _member(6)], batch_size=32) for _ in range(2))
    for engine in (direct, through):
        engine.evaluate_splits([(x, y)])
    direct._train_fn = direct._train_fn.function  # the plain tf.function, looked up on every call
    direct._splits_fn = direct._splits_fn.function
    calls = [{"order": np.arange(96, dtype="int32")}, {"seed": (1, 2)}, {"seed": (1, 3), "start": 0, "stop": 1},
             {"seed": (1, 3), "start": 1}, {}, {"seed": (1, 2), "start": 2, "reset": True}]
    for kw in calls:
        a, b = direct.train_epoch(x, y, **kw), through.train_epoch(x, y, **kw)
        np.testing.assert_array_equal(a.loss, b.loss)
        assert a.metrics == b.metrics
        assert direct.evaluate_splits([(x[:40], y[:40]), (x, y)]) == through.evaluate_splits([(x[:40], y[:40]), (x, y)])
    # Traced as often as the function itself was; one concrete function per signature called:
    # (order, reset) (shuffle, reset) (shuffle, not reset) (range, reset).
    assert through._train_fn.function.experimental_get_tracing_count() == direct._train_fn.experimental_get_tracing_count()
    assert len(through._train_fn._concrete) == 4
    tf.config.run_functions_eagerly(True)  # then the function runs as Python, as it would without the engine
    try:
        np.testing.assert_array_equal(direct.train_epoch(x, y, seed=(4, 4)).loss, through.train_epoch(x, y, seed=(4, 4)).loss)
    finally:
        tf.config.run_functions_eagerly(False)


def test_a_program_signature_is_types_and_python_values():
    from trainlab.training.engine.program import signature as _signature

    t = tf.zeros([3, 2])
    assert _signature((t, [t, 1], "shuffle", True)) == _signature((tf.ones([3, 2]), [t, 1], "shuffle", True))
    assert _signature((t, True)) != _signature((t, 1)) != _signature((t, 2))
    assert _signature((t,)) != _signature((tf.zeros([4, 2]),)) != _signature((tf.zeros([3, 2], tf.int32),))
    assert _signature((t.numpy(),)) is None and _signature(([t, tf.Variable(1.0)],)) is None
    assert _signature((t, float("nan"))) is None  # never equal to itself: it would miss every time
