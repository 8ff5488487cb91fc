"""What the tutorial printed, from ``TUTORIAL-SPEC``: the numbers the tour sets beside trainlab's.

The tutorial ("TensorFlow Training and Optimization") was run as written on TensorFlow 2.21 /
Keras 3.15 on a 2-core machine, with the minimal fixes needed to run at all. ``None`` marks a
number it never printed.
"""

from __future__ import annotations

# Section 1: loss functions, on fixed toy inputs.
BINARY_TRUE = [0.0, 1.0, 1.0, 0.0, 1.0]
BINARY_PROBABILITIES = [0.1, 0.9, 0.8, 0.2, 0.7]
BINARY_LOGITS = [-2.2, 2.2, 1.4, -1.4, 0.8]
CLASS_LABELS = [0, 1, 2, 1, 0]
CLASS_LOGITS = [[2.0, 0.5, 0.1], [0.1, 2.5, 0.2], [0.2, 0.3, 2.1], [0.8, 1.9, 0.4], [1.8, 0.6, 0.3]]
REGRESSION_TRUE = [1.0, 2.0, 3.0, 4.0, 5.0]
REGRESSION_PRED = [1.1, 1.9, 3.2, 3.8, 5.1]

LOSSES = {
    "binary cross-entropy (probabilities)": 0.20274,
    "binary cross-entropy (logits)": 0.20442,
    "mean squared error": 0.022,
    "mean absolute error": 0.14,
    "Huber (delta 1)": 0.011,
    "mean squared logarithmic error": 0.0015700,
}
SPARSE_PER_SAMPLE = [0.31678, 0.17477, 0.27374, 0.44212, 0.42155]
FOCAL_PRINTED = 0.0029397  # the tutorial's output: cross-entropy averaged over the batch before weighting
FOCAL_CORRECT = 0.0036009  # Keras' BinaryFocalCrossentropy(apply_class_balancing=True, alpha=0.25, gamma=2)
# The names the tutorial called on tf.keras.losses for its regression example.
REMOVED_LOSS_FUNCTIONS = ["mean_squared_error", "mean_absolute_error", "mean_squared_logarithmic_error"]
LOSS_TOLERANCE = 1e-4

# Section 2: optimizers on f(x) = sum((x - 2)^2) from (0, 0).
RACE_STEPS = 50
RACE_LEARNING_RATE = 0.1
RACE_OPTIMIZERS = ["sgd", "momentum", "adam", "rmsprop", "adagrad"]

# Section 3: the custom schedule (warm-up to 1e-3 over 100 steps, cosine to 1e-4 at step 1000).
WARMUP_COSINE = {"name": "warmup_cosine", "initial_learning_rate": 0.001, "warmup_steps": 100,
                 "total_steps": 1000, "min_learning_rate": 0.0001}

# Section 4: the basic loop (eager), 100 epochs.
BASIC_SECONDS = 27.9
BASIC_FIRST_EPOCH = {"loss": 0.6361, "accuracy": 0.645, "val_loss": 0.5369, "val_accuracy": 0.78}
FIRST_EPOCH_TOLERANCE = 0.05  # another weight initialization, and standardized features

# Section 5: the advanced trainer.
ADVANCED_SECONDS = 2.5
ADVANCED_STOP_EPOCH = 33
ADVANCED_VAL_ACCURACY = 0.91
VAL_ACCURACY_TOLERANCE = 0.03

# Section 6: dropout and batch normalization, final validation accuracy, one seed each.
REGULARIZATION_SECONDS = 32.1
REGULARIZATION_ACCURACY = {"none": 0.9533, "dropout": 0.9333, "batch_norm": 0.9467, "both": 0.9467}
REGULARIZATION_TOLERANCE = 0.05  # each variant's mean over seeds against the tutorial's one seed

# Section 7: L1 and L2 weight regularization.
WEIGHT_DECAY_SECONDS = 36.9

# Section 8: built-in callbacks (never run by the tutorial).
PLATEAU_FACTOR = 0.5
SCHEDULE_START, SCHEDULE_DECAY = 0.001, 0.9  # 0.001 * 0.9 ** epoch
MNIST_SUBSET = {"n_train": 5000, "n_test": 1000}

# Section 9: a custom callback on random labels.
CALLBACK_STOP_AT = 0.95
CALLBACK_EPOCHS = 20

# The whole tutorial, run as written (minimal fixes), until it crashed in section 10.
TUTORIAL_SECONDS = 107.0
