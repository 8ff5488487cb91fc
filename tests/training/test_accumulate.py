"""Gradient accumulation (``training.accumulate_grad_batches``): N batches, one update of their mean gradient."""

import keras
import numpy as np
import pytest
import tensorflow as tf

import trainlab
from trainlab import rundir
from trainlab.training.engine import Engine, Member


def _data(n=128, d=6, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d)).astype("float32")
    y = (x[:, :1] + 0.3 * rng.normal(size=(n, 1)) > 0).astype("float32")
    return x, y


def _model(seed):
    keras.utils.set_random_seed(seed)
    return keras.Sequential([keras.Input((6,)), keras.layers.Dense(16, activation="tanh"),
                             keras.layers.Dense(1, activation="sigmoid")])


def _member(seed, lr=0.1):
    return Member(_model(seed), keras.optimizers.SGD(lr), keras.losses.BinaryCrossentropy(),
                  [keras.metrics.BinaryAccuracy(name="accuracy")])


def _close(a, b, rtol=1e-5, atol=1e-6):
    for u, v in zip(a, b):
        np.testing.assert_allclose(u, v, rtol=rtol, atol=atol)


def test_eight_times_four_is_thirty_two_and_keras_fit():
    """SGD, no dropout or batch norm, equal batches: 4 accumulated batches of 8 make the step one batch of 32
    makes (the mean of equal batches' means is the whole batch's mean), within float32 rounding."""
    x, y = _data()
    order = np.random.default_rng(1).permutation(128).astype("int32")
    accumulated, whole = _member(3), _member(3)
    engine = Engine([accumulated], batch_size=8, accumulate=4)
    assert engine.steps_per_epoch(128) == 4
    for _ in range(2):
        ours = engine.train_epoch(tf.constant(x), tf.constant(y), order)
        reference = Engine([whole], batch_size=32).train_epoch(tf.constant(x), tf.constant(y), order)
        assert ours.loss.shape == (4, 1)  # one row per update
        np.testing.assert_allclose(ours.loss, reference.loss, rtol=1e-5)
        np.testing.assert_allclose(ours.grad_norm, reference.grad_norm, rtol=1e-5)
        np.testing.assert_allclose(ours.batch, 32)
        np.testing.assert_allclose(ours.layer_grad_norm[0], reference.layer_grad_norm[0], rtol=1e-5)
    _close(accumulated.model.get_weights(), whole.model.get_weights())
    assert int(accumulated.optimizer.iterations) == 8  # one update per group
    assert engine.train_logs(ours)[0]["accuracy"] == pytest.approx(engine.train_logs(reference)[0]["accuracy"])
    fitted = _model(3)
    fitted.compile(optimizer=keras.optimizers.SGD(0.1), loss="binary_crossentropy")
    for _ in range(2):
        fitted.fit(x[order], y[order], batch_size=32, epochs=1, shuffle=False, verbose=0)
    _close(accumulated.model.get_weights(), fitted.get_weights())


def _reference_groups(member, x, y, order, batch, per):
    """An eager loop: per group of ``per`` batches, the mean of their gradients (and losses) applied once."""
    losses, norms = [], []
    batches = [order[lo : lo + batch] for lo in range(0, len(order), batch)]
    variables = member.model.trainable_variables
    for g in range(0, len(batches), per):
        group = batches[g : g + per]
        sums, total = [tf.zeros_like(v) for v in variables], 0.0
        for idx in group:
            with tf.GradientTape() as tape:
                loss = member.loss(tf.gather(y, idx), member.model(tf.gather(x, idx), training=True))
            sums = [s + d for s, d in zip(sums, tape.gradient(loss, variables))]
            total += float(loss)
        grads = [s / len(group) for s in sums]
        member.optimizer.apply(grads, variables)
        losses.append(total / len(group))
        norms.append(float(tf.linalg.global_norm(grads)))
    return np.array(losses), np.array(norms)


def test_the_last_group_averages_the_batches_it_has():
    """112 samples in batches of 8 are 14 batches: groups of 4, 4, 4 and 2; the last step is the mean of 2."""
    x, y = _data(112)
    order = np.random.default_rng(2).permutation(112).astype("int32")
    ours, ref = _member(4), _member(4)
    steps = Engine([ours], batch_size=8, accumulate=4).train_epoch(tf.constant(x), tf.constant(y), order)
    ref.optimizer.build(ref.model.trainable_variables)
    losses, norms = _reference_groups(ref, tf.constant(x), tf.constant(y), order, 8, 4)
    assert len(steps.loss) == 4
    np.testing.assert_allclose(steps.batch, [32, 32, 32, 16])
    np.testing.assert_allclose(steps.loss[:, 0], losses, rtol=1e-5)
    np.testing.assert_allclose(steps.grad_norm[:, 0], norms, rtol=1e-5)
    _close(ours.model.get_weights(), ref.model.get_weights())


@pytest.mark.parametrize("drop", [False, True])
def test_a_dataset_of_batches_accumulates_as_arrays_do(drop):
    """A stream's consecutive batches make the groups; ragged along the batch axis (a short last batch), or dense
    when every batch has one known size."""
    n = 128 if drop else 116  # 116: batches of 8 end with one of 4, in a group of 2 batches (the last of 4 groups)
    x, y = _data(n)
    a, b = _member(5), _member(5)
    arrays = Engine([a], batch_size=8, accumulate=3).train_epoch(tf.constant(x), tf.constant(y))
    stream = tf.data.Dataset.from_tensor_slices((x, y)).batch(8, drop_remainder=drop)
    streamed = Engine([b], batch_size=8, accumulate=3).train_epoch_dataset(stream)
    np.testing.assert_allclose(streamed.loss, arrays.loss, rtol=1e-6)
    np.testing.assert_allclose(streamed.batch, arrays.batch)
    _close(b.model.get_weights(), a.model.get_weights(), rtol=1e-6)


def test_fused_members_accumulate_as_they_do_alone_and_a_stopped_one_sits_out():
    x, y = _data()
    order = np.arange(128, dtype="int32")
    fused = Engine([_member(1), _member(2, lr=0.05)], batch_size=8, accumulate=4)
    alone = [Engine([_member(1)], batch_size=8, accumulate=4), Engine([_member(2, lr=0.05)], batch_size=8,
                                                                      accumulate=4)]
    steps = fused.train_epoch(tf.constant(x), tf.constant(y), order)
    for k, engine in enumerate(alone):
        single = engine.train_epoch(tf.constant(x), tf.constant(y), order)
        np.testing.assert_allclose(steps.loss[:, k], single.loss[:, 0], rtol=1e-5)
        _close(fused.members[k].model.get_weights(), engine.members[0].model.get_weights())
    fused.set_active([False, True])
    frozen = fused.members[0].model.get_weights()
    steps = fused.train_epoch(tf.constant(x), tf.constant(y), order)
    assert all(np.array_equal(a, b) for a, b in zip(frozen, fused.members[0].model.get_weights()))
    assert np.isnan(steps.lr[:, 0]).all() and np.isfinite(steps.loss[:, 1]).all()


def test_xla_accumulates_as_the_graph():
    """Under XLA each batch of a group is gathered as the one-batch step gathers it (its size bounded)."""
    x, y = (tf.constant(a) for a in _data(120))  # 15 batches of 8: groups of 4, 4, 4 and 3
    plain = Engine([_member(0)], batch_size=8, accumulate=4).train_epoch(x, y, seed=(1, 2))
    xla = Engine([_member(0)], batch_size=8, accumulate=4, jit_compile=True).train_epoch(x, y, seed=(1, 2))
    np.testing.assert_allclose(xla.loss, plain.loss, rtol=1e-5)
    np.testing.assert_allclose(xla.batch, [32, 32, 32, 24])


def _loops(engine):
    """How many while loops the engine's traced training program holds (nested ones included)."""
    (concrete,) = engine._train_fn._concrete.values()
    graph = concrete.graph.as_graph_def()
    nodes = [*graph.node, *(node for function in graph.library.function for node in function.node_def)]
    return sum(node.op in ("While", "StatelessWhile") for node in nodes)


def test_one_batch_per_step_is_the_program_without_accumulation():
    """``accumulate: 1`` traces the one-batch step: the loop over the epoch's steps, no loop over a group's batches."""
    x, y = _data(64)
    single, grouped = Engine([_member(0)], batch_size=16), Engine([_member(0)], batch_size=16, accumulate=2)
    single.train_epoch(tf.constant(x), tf.constant(y))
    grouped.train_epoch(tf.constant(x), tf.constant(y))
    assert (_loops(single), _loops(grouped)) == (1, 2)


# ------------------------------------------------------------------------------------ a run
def test_a_run_records_one_row_per_update_and_its_schedule_counts_updates(tmp_path, tiny_recipe):
    """160 training samples, batches of 12: 14 batches an epoch, 4 updates of 4, 4, 4 and 2 batches (accumulate 4);
    the schedule, the step column and the checkpoints' every_steps count updates."""
    spec = {**tiny_recipe, "model": {"hidden": [8], "dropout": 0.0},
            "optimizer": {"name": "sgd", "learning_rate": {"name": "cosine", "initial_learning_rate": 0.1,
                                                           "decay_steps": 20}},
            "training": {**tiny_recipe["training"], "epochs": 3, "batch_size": 12, "accumulate_grad_batches": 4,
                         "checkpoint": {"every_steps": 3, "keep": 100}}}
    run = trainlab.train(spec, out=tmp_path / "run")
    assert len(run.data.x_train) == 160
    steps = rundir.read_csv(run.dir / "steps.csv")
    assert [int(r["step"]) for r in steps] == list(range(1, 13))
    assert int(run.model.optimizer.iterations) == 12
    schedule = keras.optimizers.schedules.CosineDecay(0.1, 20)
    np.testing.assert_allclose([float(r["lr"]) for r in steps], [float(schedule(i)) for i in range(12)], rtol=1e-6)
    from trainlab.training import checkpoint

    names = {p.name for p in checkpoint.files(run.dir)}
    # Updates 3, 6, 9 and 12 (steps_per_epoch 4): inside epochs 1 and 2 and 3, and each epoch's end. On a busy
    # machine the writer replaces a checkpoint still waiting for the disk with a newer one, so one may be missing;
    # none is anywhere else, and the last epoch's end is always written.
    every_steps = {checkpoint.file_name(0, 3), checkpoint.file_name(1, 2), checkpoint.file_name(2, 1)}
    ends = {checkpoint.file_name(epoch, 0) for epoch in (1, 2, 3)}
    assert names <= every_steps | ends and checkpoint.file_name(3, 0) in names
    assert names & every_steps


def test_mirrored_over_two_cpu_devices_accumulates_as_one_device(tmp_path):
    """Each batch of a group split unevenly over two replicas, the group's gradient summed over them once: the
    records and weights of one device (test_distribute.py's recipe: L2, momentum, clipping of the global norm)."""
    import subprocess  # noqa: PLC0415
    import sys  # noqa: PLC0415

    import yaml  # noqa: PLC0415
    from test_distribute import HELPER, RECIPE, _same_records, _weights  # noqa: PLC0415 (the tests beside this one)

    recipe = tmp_path / "recipe.yaml"
    recipe.write_text(yaml.safe_dump({**RECIPE, "training": {**RECIPE["training"], "accumulate_grad_batches": 2}}))
    done = subprocess.run([sys.executable, str(HELPER), "mirrored", str(recipe), str(tmp_path)], capture_output=True,
                          text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    _same_records(tmp_path / "none", tmp_path / "mirrored")
    assert len(rundir.read_csv(tmp_path / "none" / "steps.csv")) == 3 * 3  # 160 samples: 6 batches of 27, 3 steps
    for one, two in zip(_weights(tmp_path / "none.npz"), _weights(tmp_path / "mirrored.npz"), strict=True):
        np.testing.assert_allclose(two, one, rtol=1e-5, atol=1e-6)


def test_a_run_with_accumulation_resumes_exactly_from_inside_an_epoch(tmp_path, tiny_recipe):
    from test_resume import _stopped_at, assert_same_run  # noqa: PLC0415 (a helper of the tests beside this one)
    from trainlab.training import checkpoint  # noqa: PLC0415

    spec = {**tiny_recipe, "deterministic": True,
            "training": {**tiny_recipe["training"], "epochs": 4, "batch_size": 8, "accumulate_grad_batches": 3,
                         "checkpoint": {"every_steps": 3, "keep": 100}}}
    try:
        finished = trainlab.train(spec, out=tmp_path / "run")
        names = [p.name for p in checkpoint.files(finished.dir)]
        inside = [n for n in names if not n.endswith("-000000.ckpt")]
        assert inside  # 20 batches of 8: 7 steps an epoch, checkpoints inside epochs
        for name in (inside[0], inside[-1]):
            assert_same_run(finished, trainlab.resume(_stopped_at(finished, tmp_path, name)))
    finally:
        from tensorflow.python.framework import config  # noqa: PLC0415 (TensorFlow exports no switch back)

        config.disable_op_determinism()
