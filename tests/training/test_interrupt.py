"""Ctrl-C and SIGTERM deferred to the training loop's safe points (no training here; see test_resume.py for that)."""

import signal
import threading
import time

import pytest
import tensorflow as tf

from trainlab.training.interrupt import Interrupts

pytestmark = pytest.mark.skipif(threading.current_thread() is not threading.main_thread(),
                                reason="signals reach the main thread only")


@pytest.fixture
def ctrl_c():
    """Ctrl-C handled as in a terminal (a test runner may ignore it), put back afterwards."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


def test_a_signal_is_held_until_the_loop_checks(ctrl_c):
    halt = tf.Variable(False)
    with Interrupts([halt]) as interrupts:
        signal.raise_signal(signal.SIGINT)  # no KeyboardInterrupt here, in the middle of a step
        assert interrupts.pending and bool(halt.numpy())
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()
        assert not interrupts.pending and not bool(halt.numpy())
        interrupts.check()  # nothing pending: nothing happens
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)  # outside the loop, Ctrl-C acts at once again


def test_a_second_ctrl_c_acts_at_once(ctrl_c):
    with Interrupts([tf.Variable(False)]):
        signal.raise_signal(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)


def test_the_watcher_halts_a_compiled_loop_the_main_thread_is_inside(ctrl_c):
    """Python's handler cannot run while the main thread is in one long TensorFlow call; the watcher's halt stops it."""
    halt = tf.Variable(False)
    limit = 2_000_000  # about half a minute of looping here, were it not halted

    @tf.function
    def busy():
        i = tf.constant(0)
        while not halt and i < limit:  # the engine's loop checks halt the same way, before each step
            i += 1
        return i

    with Interrupts([halt]) as interrupts:
        threading.Timer(0.3, signal.raise_signal, [signal.SIGINT]).start()
        started = time.time()
        steps = int(busy())
        assert steps < limit and time.time() - started < 15
        with pytest.raises(KeyboardInterrupt):
            interrupts.check()


def test_a_signal_that_is_ignored_stays_ignored():
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        with Interrupts([tf.Variable(False)]) as interrupts:
            assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
            signal.raise_signal(signal.SIGINT)
            assert not interrupts.pending
    finally:
        signal.signal(signal.SIGINT, previous)


def test_sigterm_is_deferred_only_when_python_handles_it():
    terminated = []

    def handler(signum, frame):
        terminated.append(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        with Interrupts([tf.Variable(False)]) as interrupts:
            signal.raise_signal(signal.SIGTERM)
            assert interrupts.pending and terminated == []
            interrupts.check()  # this handler returns: training would go on
            assert terminated == [signal.SIGTERM] and not interrupts.pending
    finally:
        signal.signal(signal.SIGTERM, previous)
