"""The catalogue of user mistakes and the one line each one prints.

Every mistake exits with status 2 and prints exactly one line on stderr,
``trainlab: error: <key or file>: <rule>, got <value>`` (no ``got`` part where there
is no value), never a traceback; it creates no run directory and touches no file of
an earlier run. All of them fail before training, so ``main([...])`` runs in-process.

A case gives the recipe (a patch of the tiny recipe, raw YAML text, or None for no
file), other files, extra arguments, and the expected message: its exact start and
its ``, got ...`` end (None: the message has no value; ANY: it has one).
"""

import json

import numpy as np
import pytest
import yaml

from trainlab.cli import main

ANY = object()

EARLIER_RUN = {
    "recipe.yaml": "name: earlier\n",
    "history.csv": "epoch,loss\n1,0.7\n2,0.6\n",
    "summary.json": '{"status": "completed"}\n',
    "model.keras": b"PK\x03\x04 not really a model",
}


@pytest.fixture
def workspace(tmp_path, monkeypatch):
    """A fresh working folder holding an earlier run in ``runs/earlier``."""
    monkeypatch.chdir(tmp_path)
    earlier = tmp_path / "runs" / "earlier"
    earlier.mkdir(parents=True)
    for name, content in EARLIER_RUN.items():
        (earlier / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return tmp_path


def _write(folder, tiny_recipe, recipe, files):
    """Write ``recipe.yaml`` (a patch of the tiny recipe, raw text, or nothing) and the other files."""
    if isinstance(recipe, dict):
        (folder / "recipe.yaml").write_text(yaml.safe_dump(_patched(tiny_recipe, recipe), sort_keys=False))
    elif isinstance(recipe, str):
        (folder / "recipe.yaml").write_text(recipe)
    for name, content in files.items():
        if callable(content):
            content(folder / name)
        else:
            (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())


def _patched(base, patch):
    """The tiny recipe with ``patch``: sections are merged key by key, except ``data``, which is replaced."""
    out = dict(base)
    for key, value in patch.items():
        if key in ("training", "model", "optimizer") and isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = {**out[key], **value}
        else:
            out[key] = value
    return out


def _snapshot(folder):
    """Every path under ``folder`` with its bytes and modification time (None for folders)."""
    return {
        p.relative_to(folder): (p.read_bytes(), p.stat().st_mtime_ns) if p.is_file() else None
        for p in sorted(folder.rglob("*"))
    }


def _error_line(argv, capsys):
    status = main(argv)
    out, err = capsys.readouterr()
    lines = err.splitlines()
    assert status == 2, (status, err)
    assert len(lines) == 1, f"expected one stderr line, got:\n{err}"
    assert "Traceback" not in err and out == ""
    assert lines[0].startswith("trainlab: error: ")
    return lines[0].removeprefix("trainlab: error: ")


def _check_message(message, start, got):
    assert message.startswith(start), message
    if got is None:
        assert ", got " not in message, message
    elif got is ANY:
        assert ", got " in message, message
    else:
        assert message.endswith(f", got {got}"), message


def _npz(**arrays):
    def write(path):
        np.savez(path, **arrays)

    return write


# ------------------------------------------------------------------ mistakes in the recipe
# `trainlab check` reports every mistake exactly as `trainlab run` does, and neither writes a file.
VALID_TOP_KEYS = "name, seed, deterministic, data, model, loss, optimizer, training, metrics, tracking"

RECIPE_CASES = [
    # The file itself.
    pytest.param(None, {}, [], "recipe.yaml: file not found", None, id="missing-file"),
    pytest.param("", {}, [], "recipe.yaml: file is empty, expected a YAML mapping", None, id="empty-file"),
    pytest.param("# only a comment\n", {}, [], "recipe.yaml: file holds no settings, expected a YAML mapping", None,
                 id="comments-only"),
    pytest.param("seed: 1\ntraining:\n  epochs: 3\n bad: [\n", {}, [],
                 "recipe.yaml: YAML syntax error at line 4, column 2 (expected <block end>, but found"
                 " '<block mapping start>')", None, id="yaml-syntax"),
    pytest.param("model: {hidden: [8, 4}\n", {}, [], "recipe.yaml: YAML syntax error at line 1, column 22 (", None,
                 id="yaml-unclosed-bracket"),
    pytest.param("training: {epochs: 2}\nseed: 3\ntraining: {batch_size: 4}\n", {}, [],
                 "recipe.yaml: key set twice, at line 1 and at line 3, column 1; keep one", "'training'",
                 id="duplicate-key"),
    pytest.param('"bad\\nkey": 1\n', {}, [], "bad\\nkey: unknown key; valid keys: ", None,
                 id="key-with-a-newline"),  # a quoted key holding a newline: still one line, escaped
    pytest.param("- training\n- model\n", {}, [],
                 "recipe.yaml: top level must be a mapping of keys to values", "a list", id="top-level-list"),
    pytest.param({"training": ["epochs", 3]}, {}, [], "training: must be a mapping", "['epochs', 3]",
                 id="section-list"),
    # Unknown keys.
    pytest.param({"trainig": {"epochs": 3}}, {}, [],
                 f"trainig: unknown key (did you mean 'training'?); valid keys: {VALID_TOP_KEYS}", None,
                 id="unknown-top-key"),
    pytest.param({"training": {"epocs": 3}}, {}, [],
                 "training.epocs: unknown key (did you mean 'epochs'?); valid keys: epochs, batch_size,", None,
                 id="unknown-nested-key"),
    pytest.param({"training": {"early_stopping": {"patiense": 3}}}, {}, [],
                 "training.early_stopping.patiense: unknown key (did you mean 'patience'?); valid keys: monitor,",
                 None, id="unknown-deep-key"),
    pytest.param({"data": {"n_sample": 100}}, {}, [],
                 "data.n_sample: unknown key (did you mean 'n_samples'?); valid keys: source, task,", None,
                 id="unknown-data-key"),
    # Types.
    pytest.param({"training": {"epochs": "ten"}}, {}, [], "training.epochs: must be an integer", "'ten'",
                 id="epochs-text"),
    pytest.param({"training": {"epochs": 2.5}}, {}, [], "training.epochs: must be a whole number", "2.5",
                 id="epochs-fraction"),
    pytest.param({"training": {"epochs": True}}, {}, [], "training.epochs: must be a number, not true or false",
                 "True", id="epochs-bool"),
    pytest.param({"training": {"tensorboard": "maybe"}}, {}, [],
                 "training.tensorboard: must be a mapping, true or false", "'maybe'", id="tensorboard-text"),
    pytest.param({"optimizer": {"learning_rate": "fast"}}, {}, [],
                 "optimizer.learning_rate: must be a number or a mapping", "'fast'", id="learning-rate-text"),
    pytest.param({"metrics": "accuracy"}, {}, [], "metrics: must be 'auto' or a list", "'accuracy'",
                 id="metrics-not-a-list"),
    pytest.param({"model": {"hidden": [16, "wide"]}}, {}, [], "model.hidden[1]: must be an integer", "'wide'",
                 id="hidden-item-text"),
    # Ranges.
    pytest.param({"training": {"epochs": 0}}, {}, [], "training.epochs: must be > 0", "0", id="epochs-zero"),
    pytest.param({"training": {"class_weight": "bal"}}, {}, [], "training.class_weight: must be 'balanced' or a"
                 " mapping", "'bal'", id="class-weight-unknown-rule"),
    pytest.param({"training": {"class_weight": {"setosa": -1}}}, {}, [],
                 "training.class_weight: the weight of class 'setosa' must be a finite number >= 0", "-1",
                 id="class-weight-negative"),
    pytest.param({"training": {"epochs": -3}}, {}, [], "training.epochs: must be > 0", "-3", id="epochs-negative"),
    pytest.param({"training": {"batch_size": 0}}, {}, [], "training.batch_size: must be > 0", "0",
                 id="batch-size-zero"),
    pytest.param({"training": {"batch_size": -4}}, {}, [], "training.batch_size: must be > 0", "-4",
                 id="batch-size-negative"),
    pytest.param({"optimizer": {"learning_rate": 0}}, {}, [], "optimizer.learning_rate: must be > 0", "0",
                 id="learning-rate-zero"),
    pytest.param({"optimizer": {"learning_rate": -0.1}}, {}, [], "optimizer.learning_rate: must be > 0", "-0.1",
                 id="learning-rate-negative"),
    pytest.param({"model": {"dropout": 1.0}}, {}, [], "model.dropout: dropout rates must be in [0, 1)", "1.0",
                 id="dropout-one"),
    pytest.param({"model": {"dropout": -0.1}}, {}, [], "model.dropout: dropout rates must be in [0, 1)", "-0.1",
                 id="dropout-negative"),
    pytest.param({"model": {"dropout": [0.2, 1.5]}}, {}, [], "model.dropout: dropout rates must be in [0, 1)",
                 "1.5", id="dropout-list-item"),
    pytest.param({"model": {"dropout": [0.1, 0.1, 0.1]}}, {}, [],
                 "model.dropout: needs one rate per hidden layer (2) or a single number", "[0.1, 0.1, 0.1]",
                 id="dropout-list-length"),
    pytest.param({"data": {"source": "synthetic_classification", "validation_split": 1.2}}, {}, [],
                 "data.validation_split: must be in [0, 1)", "1.2", id="validation-split"),
    # Unknown names: the valid ones listed, the closest suggested.
    pytest.param({"loss": "focall"}, {}, [], "loss: unknown loss (did you mean 'focal'?); valid names: ",
                 "'focall'", id="unknown-loss"),
    pytest.param({"optimizer": "adamm"}, {}, [],
                 "optimizer.name: unknown optimizer (did you mean 'adam'?); valid names: ", "'adamm'",
                 id="unknown-optimizer"),
    pytest.param({"optimizer": {"learning_rate": {"name": "cosin", "initial_learning_rate": 0.1, "decay_steps": 9}}},
                 {}, [], "optimizer.learning_rate.name: unknown schedule (did you mean 'cosine'?); valid names: ",
                 "'cosin'", id="unknown-schedule"),
    pytest.param({"data": {"source": "synthetic_clasification"}}, {}, [],
                 "data.source: unknown data source (did you mean 'synthetic_classification'?); valid names: ",
                 "'synthetic_clasification'", id="unknown-data-source"),
    pytest.param({"training": {"callbacks": ["early_stoping"]}}, {}, [],
                 "training.callbacks[0]: unknown callback (did you mean 'early_stopping'?); valid names: ",
                 "'early_stoping'", id="unknown-callback"),
    pytest.param({"data": {"source": "digits", "augment": ["gaussian_noise"]}}, {}, [],
                 "data.augment[0].stddev: is required by augmentation 'gaussian_noise'", None,
                 id="augmentation-without-its-argument"),
    pytest.param({"data": {"source": "digits", "augment": [{"name": "random_flp"}]}}, {}, [],
                 "data.augment[0].name: unknown augmentation (did you mean 'random_flip'?); valid names: ",
                 "'random_flp'", id="unknown-augmentation"),
    pytest.param({"metrics": ["acuracy"]}, {}, [],
                 "metrics[0]: unknown metric (did you mean 'accuracy'?); valid names: ", "'acuracy'",
                 id="unknown-metric"),
    pytest.param({"model": {"activation": "rellu"}}, {}, [],
                 "model.activation: unknown activation (did you mean 'relu'?); valid names: ", "'rellu'",
                 id="unknown-activation"),
    pytest.param({"model": {"kernel_initializer": "glorotuniform"}}, {}, [],
                 "model.kernel_initializer: unknown initializer (did you mean 'glorot_uniform'?); valid names: ",
                 "'glorotuniform'", id="unknown-initializer"),
    pytest.param({"model": {"name": "mpl"}}, {}, [], "model.name: unknown model (did you mean 'mlp'?); valid names: ",
                 "'mpl'", id="unknown-model"),
    # Arguments of named components.
    pytest.param({"optimizer": {"name": "sgd", "momentun": 0.9}}, {}, [],
                 "optimizer.momentun: unknown argument for optimizer 'sgd' (did you mean 'momentum'?);"
                 " valid arguments: learning_rate, momentum,", "0.9", id="unknown-optimizer-argument"),
    pytest.param({"loss": {"name": "focal", "gama": 2}}, {}, [],
                 "loss.gama: unknown argument for loss 'focal' (did you mean 'gamma'?); valid arguments: ", "2",
                 id="unknown-loss-argument"),
    pytest.param({"optimizer": {"name": "sgd", "momentum": 2}}, {}, [],
                 "optimizer.momentum: must be in [0.0, 1.0]", "2", id="optimizer-argument-range"),
    pytest.param({"loss": {"name": "huber", "delta": -1}}, {}, [], "loss.delta: must be > 0", "-1",
                 id="loss-argument-range"),
    pytest.param({"optimizer": {"clip_norm": 1.0, "clip_value": 0.5}}, {}, [],
                 "optimizer: set clip_norm or clip_value, not both (Keras clips gradients one way)",
                 "clip_norm=1.0 and clip_value=0.5", id="clip-norm-and-value"),
    pytest.param({"optimizer": {"global_clip_norm": 1.0, "clip_value": 0.5}}, {}, [],
                 "optimizer: set global_clip_norm or clip_value, not both (Keras clips gradients one way)",
                 "global_clip_norm=1.0 and clip_value=0.5", id="global-clip-and-value"),
    pytest.param({"optimizer": {"learning_rate": {"name": "exponential", "initial_learning_rate": 0.1,
                                                  "decay_steps": 0, "decay_rate": 0.9}}}, {}, [],
                 "optimizer.learning_rate.decay_steps: must be > 0", "0", id="schedule-decay-steps-zero"),
    pytest.param({"optimizer": {"learning_rate": {"name": "exponential", "initial_learning_rate": 0.1,
                                                  "decay_steps": 100}}}, {}, [],
                 "optimizer.learning_rate.decay_rate: is required by schedule 'exponential'", None,
                 id="schedule-argument-missing"),
    pytest.param({"training": {"callbacks": [{"name": "model_checkpoint", "filepath": "best.txt"}]}}, {}, [],
                 "training.callbacks[0]: invalid arguments for callback 'model_checkpoint' (",
                 "{'filepath': 'best.txt'}",
                 id="callback-argument-value"),
    pytest.param({"data": {"source": "csv"}}, {}, [], "data.path: is required for data source 'csv'", None,
                 id="csv-without-path"),
    pytest.param({"data": {"source": "wine", "n_samples": 500}}, {}, [],
                 "data.n_samples: does not apply to data source 'wine' (its keys: none); remove it", "500",
                 id="key-of-another-source"),
    pytest.param({"data": {"source": "csv", "path": "data.csv", "categorical": "colour"}}, {}, [],
                 "data.categorical: must be 'auto' or a list of column names", "'colour'", id="csv-categorical-text"),
    pytest.param({"data": {"source": "csv", "path": "data.csv", "categorical": ["a", "b", "a"]}}, {}, [],
                 "data.categorical: lists a column twice", "'a'", id="csv-categorical-twice"),
    pytest.param({"data": {"source": "csv", "path": "data.csv", "max_categories": 0}}, {}, [],
                 "data.max_categories: must be >= 1", "0", id="csv-max-categories-zero"),
    pytest.param({"data": {"source": "csv", "path": "data.csv", "target": "y", "weight": "y"}}, {}, [],
                 "data.weight: must be another column than the target (data.target)", "'y'",
                 id="csv-weight-is-target"),
    pytest.param({"data": {"source": "csv", "path": "data.csv", "missing": "zero"}}, {}, [],
                 "data.missing: must be one of 'error', 'mean', 'median' or 'most_frequent'", "'zero'",
                 id="csv-missing-strategy-unknown"),
    # Model keys: each model takes its builder's keys (the tiny recipe's model sets hidden and dropout).
    pytest.param({"model": {"name": "cnn"}}, {}, [],
                 "model.hidden: does not apply to model 'cnn' (its keys: filters, kernel_size,", "[16, 8]",
                 id="key-of-another-model"),
    pytest.param({"model": {"hiden": [8]}}, {}, [],
                 "model.hiden: unknown key (did you mean 'hidden'?); valid keys for model 'mlp': name, hidden,", None,
                 id="unknown-model-key"),
    pytest.param({"model": {"input_shape": [8]}}, {}, [],
                 "model.input_shape: is given by the data, not the recipe; remove it", None, id="model-data-argument"),
    pytest.param("model: {name: cnn, pool: min}\n", {}, [],
                 "model.pool: must be one of 'max', 'avg' or 'none'", "'min'", id="cnn-unknown-pool"),
    pytest.param("model: {name: transformer, dim: 10, heads: 4}\n", {}, [],
                 "model.heads: must divide model.dim (10)", "4", id="transformer-heads"),
    pytest.param("model: {name: rnn, units: []}\n", {}, [], "model.units: needs at least 1 layer", "[]",
                 id="rnn-no-layer"),
    # --set.
    pytest.param({}, {}, ["--set", "training"], "--set: expects key.path=value", "'training'", id="set-without-equals"),
    pytest.param({}, {}, ["--set", "=3"], "--set: expects key.path=value with a non-empty key path", "'=3'",
                 id="set-empty-key"),
    pytest.param({}, {}, ["--set", "seed.value=3"], "seed: is not a mapping, cannot set seed.value", "7",
                 id="set-through-scalar"),
    pytest.param({}, {}, ["--set", "training.epochs.max=3"],
                 "training.epochs: is not a mapping, cannot set training.epochs.max", "5",
                 id="set-through-nested-scalar"),
    pytest.param({}, {}, ["--set", "model.hidden=[8, 4"], "--set model.hidden: value is not valid YAML", "'[8, 4'",
                 id="set-bad-yaml"),
    pytest.param({}, {}, ["--set", "training.epocs=3"], "training.epocs: unknown key (did you mean 'epochs'?)", None,
                 id="set-unknown-key"),
    pytest.param({}, {}, ["--set", "training.epochs=-1"], "training.epochs: must be > 0", "-1", id="set-bad-value"),
    pytest.param({}, {}, ["--set", "training..epochs=3"], "--set: expects key.path=value with a non-empty key path",
                 "'training..epochs=3'", id="set-empty-path-part"),
    pytest.param({}, {}, ["--set", "training.epochs={max: 3}"], "training.epochs: must be an integer",
                 "{'max': 3}", id="set-mapping-for-a-number"),
    # The file is not YAML text.
    pytest.param(None, {"recipe.yaml": lambda path: path.mkdir()}, [],
                 "recipe.yaml: is a directory, expected a YAML file", None, id="recipe-is-a-folder"),
    pytest.param(None, {"recipe.yaml": b"\xff\xfe training: 3\n"}, [],
                 "recipe.yaml: cannot read file (UnicodeDecodeError: 'utf-8' codec can't decode byte 0xff", None,
                 id="recipe-not-utf8"),
    # Checkpoints and non-finite values.
    pytest.param({"training": {"checkpoint": "often"}}, {}, [],
                 "training.checkpoint: must be a mapping, true or false", "'often'", id="checkpoint-text"),
    pytest.param({"training": {"checkpoint": {"keep": 0}}}, {}, [], "training.checkpoint.keep: must be > 0", "0",
                 id="checkpoint-keep-zero"),
    pytest.param({"training": {"checkpoint": {"every_steps": 0}}}, {}, [],
                 "training.checkpoint.every_steps: must be > 0", "0", id="checkpoint-every-steps-zero"),
    pytest.param({"training": {"checkpoint": {"every_steps": 2.5}}}, {}, [],
                 "training.checkpoint.every_steps: must be a whole number", "2.5", id="checkpoint-every-steps-fraction"),
    pytest.param({"training": {"checkpoint": {"evry_steps": 10}}}, {}, [],
                 "training.checkpoint.evry_steps: unknown key (did you mean 'every_steps'?); valid keys: enabled,"
                 " every_steps, keep", None, id="checkpoint-unknown-key"),
    pytest.param({"training": {"on_nonfinite": "ignore"}}, {}, [],
                 "training.on_nonfinite: must be one of 'rollback' or 'stop'", "'ignore'", id="on-nonfinite-unknown"),
    pytest.param({"training": {"rollback": {"lr_factor": 1.0}}}, {}, [], "training.rollback.lr_factor: must be < 1",
                 "1.0", id="rollback-lr-factor-one"),
    pytest.param({"training": {"rollback": {"lr_factor": 0}}}, {}, [], "training.rollback.lr_factor: must be > 0",
                 "0", id="rollback-lr-factor-zero"),
    pytest.param({"training": {"rollback": {"max_rollbacks": -1}}}, {}, [],
                 "training.rollback.max_rollbacks: must be >= 0", "-1", id="rollback-max-negative"),
    pytest.param({"training": {"rollback": True}}, {}, [], "training.rollback: must be a mapping", "True",
                 id="rollback-not-a-mapping"),
    pytest.param({"training": {"distribute": "gpus"}}, {}, [],
                 "training.distribute: must be one of 'none', 'mirrored' or 'multi_worker'", "'gpus'",
                 id="distribute-unknown"),
    pytest.param({}, {}, ["--set", "training.distribute=true"],
                 "training.distribute: must be one of 'none', 'mirrored' or 'multi_worker'", "True",
                 id="distribute-not-a-name"),
    pytest.param({"training": {"distribute": "mirrored", "jit_compile": True}}, {}, [],
                 "training.jit_compile: compiles the epoch for one device; turn it off with training.distribute:"
                 " mirrored", "True", id="distribute-with-jit"),
    # Sanity runs, limits, profiling (docs/recipes.md, "Sanity runs").
    pytest.param({"training": {"fast_dev_run": "maybe"}}, {}, [], "training.fast_dev_run: must be true or false",
                 "'maybe'", id="fast-dev-run-text"),
    pytest.param({"training": {"limit_train_batches": 0}}, {}, [],
                 "training.limit_train_batches: a count of batches must be >= 1 (or a fraction 0 < f <= 1.0)", "0",
                 id="limit-train-zero"),
    pytest.param({"training": {"limit_val_batches": 1.5}}, {}, [],
                 "training.limit_val_batches: must be a count of batches (a whole number >= 1) or a fraction"
                 " 0 < f <= 1.0", "1.5", id="limit-val-fraction-above-one"),
    pytest.param({"training": {"limit_val_batches": "all"}}, {}, [],
                 "training.limit_val_batches: must be an integer or a number", "'all'", id="limit-val-text"),
    pytest.param({"training": {"overfit_batches": 0}}, {}, [], "training.overfit_batches: must be > 0", "0",
                 id="overfit-batches-zero"),
    pytest.param({"training": {"overfit_batches": 2, "limit_train_batches": 3}}, {}, [],
                 "training.limit_train_batches: does not combine with training.overfit_batches (which trains and"
                 " validates on its own fixed batches); remove one", "3", id="overfit-with-a-limit"),
    pytest.param({"training": {"profile": 3}}, {}, [], "training.profile: must be a mapping", "3",
                 id="profile-not-a-mapping"),
    pytest.param({"training": {"profile": {"epoch": 0}}}, {}, [], "training.profile.epoch: must be > 0", "0",
                 id="profile-epoch-zero"),
    pytest.param({"training": {"profile": {"epoch": 9}}}, {}, [],
                 "training.profile.epoch: must be <= training.epochs (5)", "9", id="profile-epoch-after-the-last"),
    pytest.param({"optimizer": {"name": "sgd", "momentum": 0.9, "learning_rate": {
                     "name": "one_cycle", "max_learning_rate": 0.1, "total_steps": 100, "moms": [0.9]}}}, {}, [],
                 "optimizer.learning_rate.moms: must list 3 momentums (start, at the peak rate, end)", "[0.9]",
                 id="one-cycle-moms"),
    pytest.param({"training": {"distribute_timeout_s": 0}}, {}, [], "training.distribute_timeout_s: must be > 0",
                 "0", id="distribute-timeout-zero"),
    pytest.param({"training": {"precision": "16-mixed"}}, {}, [],
                 "training.precision: must be one of 'float32', 'mixed_float16' or 'mixed_bfloat16' (did you mean"
                 " 'mixed_float16'?)", "'16-mixed'", id="precision-lightning-name"),
    pytest.param({"training": {"precision": "mixed_bfloat61"}}, {}, [],
                 "training.precision: must be one of 'float32', 'mixed_float16' or 'mixed_bfloat16' (did you mean"
                 " 'mixed_bfloat16'?)", "'mixed_bfloat61'", id="precision-misspelt"),
    pytest.param({}, {}, ["--set", "training.precision=16"],
                 "training.precision: must be one of 'float32', 'mixed_float16' or 'mixed_bfloat16'", "16",
                 id="precision-a-number"),
    pytest.param({"training": {"accumulate_grad_batches": 0}}, {}, [],
                 "training.accumulate_grad_batches: must be > 0", "0", id="accumulate-zero"),
    pytest.param({"training": {"accumulate_grad_batches": 1.5}}, {}, [],
                 "training.accumulate_grad_batches: must be a whole number", "1.5", id="accumulate-fraction"),
    pytest.param({"training": {"accumulate_grad_batches": 4}, "optimizer": {"gradient_accumulation_steps": 2}}, {}, [],
                 "training.accumulate_grad_batches: accumulates gradients over batches, as"
                 " optimizer.gradient_accumulation_steps (Keras' own) does; set one of them", "4",
                 id="accumulate-twice"),
]


@pytest.mark.parametrize("verb", ["run", "check"])
@pytest.mark.parametrize("recipe, files, args, start, got", RECIPE_CASES)
def test_a_recipe_mistake_is_one_line(workspace, tiny_recipe, capsys, verb, recipe, files, args, start, got):
    _write(workspace, tiny_recipe, recipe, files)
    before = _snapshot(workspace)
    out = ["--out", "runs/new"] if verb == "run" else []
    _check_message(_error_line([verb, "recipe.yaml", *out, *args], capsys), start, got)
    assert _snapshot(workspace) == before  # no run directory, the earlier run untouched


# ------------------------------------------------------------- mistakes found in the data
# Only `trainlab run` loads the data; `trainlab check` validates the recipe alone (docs/recipes.md).
def _csv(rows):
    return "\n".join(rows) + "\n"


TABLE = "data: {source: synthetic_classification, n_samples: 200, n_features: 8}\ntraining: {epochs: 1, verbose: 0}\n"
GOOD_ROWS = ["a,b,y"] + [f"{i},{i % 7},{i % 2}" for i in range(40)]
CSV = {"data": {"source": "csv", "path": "data.csv"}}
WEIGHTED_ROWS = ["a,w,y"] + [f"{i},1.5,{i % 2}" for i in range(40)]

IMAGES = {"data": {"source": "image_folder", "path": "pics", "image_size": [4, 4]}}


def _images(counts, damaged=None):
    """A folder of tiny PNGs, ``counts[class]`` in each class sub-folder ("": the folder itself)."""

    def write(folder):
        from PIL import Image

        for name, n in counts.items():
            (folder / name).mkdir(parents=True, exist_ok=True)
            for i in range(n):
                Image.new("RGB", (5, 5), (40 * i, 0, 0)).save(folder / name / f"{i}.png")
        if damaged:
            (folder / damaged).write_bytes(b"a text file named like an image")

    return write


DATA_CASES = [
    pytest.param(CSV, {}, [], "data.path: file not found: data.csv", "'data.csv'", id="csv-missing"),
    pytest.param(CSV, {"data.csv": ""}, [], "data.csv: file is empty; a CSV needs a header row and data rows", None,
                 id="csv-empty"),
    pytest.param(CSV, {"data.csv": "a,b,y\n"}, [], "data.csv: has a header row but no data rows", "'a, b, y'",
                 id="csv-header-only"),
    pytest.param({"data": {**CSV["data"], "target": "lable"}}, {"data.csv": _csv(["a,b,label", "1,2,0", "3,4,1"])}, [],
                 "data.target: column not found in data.csv (did you mean 'label'?); columns: a, b, label", "'lable'",
                 id="csv-no-target-column"),
    pytest.param({"data": {**CSV["data"], "categorical": []}},
                 {"data.csv": _csv([*GOOD_ROWS[:3], "2,abc,0", *GOOD_ROWS[3:]])}, [],
                 "data.csv: line 4, column 'b': must be a number (a numeric column; list it in data.categorical to"
                 " treat its values as categories)", "'abc'", id="csv-text-cell-in-numeric-column"),
    pytest.param(CSV, {"data.csv": _csv([*GOOD_ROWS[:3], "2,,0", *GOOD_ROWS[3:]])}, [],
                 "data.csv: line 4, column 'b': missing value; set data.missing to mean, median or most_frequent to"
                 " fill gaps", "''", id="csv-empty-cell"),
    pytest.param(CSV, {"data.csv": _csv([*GOOD_ROWS[:5], "nan,1,0", *GOOD_ROWS[5:]])}, [],
                 "data.csv: line 6, column 'a': missing value; set data.missing to mean, median or most_frequent to"
                 " fill gaps", "'nan'", id="csv-nan"),
    pytest.param({"data": {**CSV["data"], "categorical": ["b", "bb"]}}, {"data.csv": _csv(GOOD_ROWS)}, [],
                 "data.categorical: column not found in data.csv (did you mean 'b'?); feature columns: a, b",
                 "'bb'", id="csv-categorical-not-found"),
    pytest.param({"data": {**CSV["data"], "categorical": ["y"]}}, {"data.csv": _csv(GOOD_ROWS)}, [],
                 "data.categorical: lists the target column (data.target); it is not a feature", "'y'",
                 id="csv-categorical-is-target"),
    pytest.param({"data": {**CSV["data"], "weight": "wt"}}, {"data.csv": _csv(WEIGHTED_ROWS)}, [],
                 "data.weight: column not found in data.csv (did you mean 'w'?); columns: a, w, y", "'wt'",
                 id="csv-weight-not-found"),
    pytest.param({"data": {**CSV["data"], "weight": "w"}},
                 {"data.csv": _csv([*WEIGHTED_ROWS[:7], "3,-0.5,1", *WEIGHTED_ROWS[7:]])}, [],
                 "data.csv: line 8, column 'w': a weight must be a finite number >= 0", "'-0.5'",
                 id="csv-negative-weight"),
    pytest.param({"data": {**CSV["data"], "weight": "w"}},
                 {"data.csv": _csv([WEIGHTED_ROWS[0], *(row.replace(",1.5,", ",0,") for row in WEIGHTED_ROWS[1:])])},
                 [], "data.csv: sample_weight must not be all zeros (nothing would be learned)", None,
                 id="csv-weights-all-zero"),
    pytest.param(CSV, {"data.csv": _csv([*GOOD_ROWS[:5], "1,-inf,0", *GOOD_ROWS[5:]])}, [],
                 "data.csv: line 6, column 'b': features must be finite (no NaN or inf)", "'-inf'", id="csv-inf"),
    pytest.param(CSV, {"data.csv": _csv([*GOOD_ROWS[:2], "1,2,inf", *GOOD_ROWS[2:]])}, [],
                 "data.csv: line 3, column 'y': the target must be finite (no NaN or inf)", "'inf'",
                 id="csv-target-inf"),
    pytest.param(CSV, {"data.csv": _csv([*GOOD_ROWS[:2], "1,2", *GOOD_ROWS[2:]])}, [],
                 "data.csv: line 3: every row needs as many cells as the header (3)", "2", id="csv-short-row"),
    pytest.param(CSV, {"data.csv": _csv(["a,b,y", "1,2,0", "3,4,1", "5,6,0"])}, [],
                 "data.csv: too few samples for the split", "3", id="csv-too-few-rows"),
    pytest.param({"data": {"source": "npz", "path": "data.npz"}},
                 {"data.npz": _npz(features=np.zeros((10, 2)), labels=np.zeros(10))}, [],
                 "data.npz: needs arrays 'x' and 'y' (or 'X' and 'y', or 'x_train' and 'y_train' with optional"
                 " 'x_test' and 'y_test'); it has", "'features, labels'", id="npz-without-arrays"),
    pytest.param({"data": {"source": "npz", "path": "data.npz"}}, {"data.npz": "x,y\n1,2\n"}, [],
                 "data.npz: is not a readable NumPy .npz archive (a zip of arrays, as numpy.savez writes)", None,
                 id="npz-not-an-archive"),
    pytest.param(IMAGES, {}, [], "data.path: folder not found: pics", "'pics'", id="image-folder-missing"),
    pytest.param(IMAGES, {"pics": _images({"": 3})}, [],
                 "pics: needs one sub-folder of images per class (the sub-folders' names are the class names);"
                 " move its 3 images into one sub-folder per class; it has no sub-folder", None,
                 id="image-folder-without-class-folders"),
    pytest.param(IMAGES, {"pics": _images({"cat": 5, "dog": 5}, damaged="dog/x.png")}, [],
                 "pics/dog/x.png: is not a readable image (not an image file Pillow recognizes)", None,
                 id="image-folder-damaged-image"),
    # The loss does not fit the data. See also test_loss_mistakes_show_the_loss.
    pytest.param({"data": {"source": "iris"}, "loss": "binary_crossentropy"}, {}, [],
                 "loss: needs 2 classes but data.source 'iris' has 3 classes;"
                 " use sparse_categorical_crossentropy", "'binary_crossentropy'", id="three-classes-binary-loss"),
    pytest.param({"data": {"source": "diabetes"}, "loss": "sparse_categorical_crossentropy"}, {}, [],
                 "loss: a classification loss, but data.source 'diabetes' has a regression target;"
                 " use a regression loss (mse, mae, huber, msle)", "'sparse_categorical_crossentropy'",
                 id="regression-target-classification-loss"),
    pytest.param({"data": {"source": "diabetes"}, "metrics": ["accuracy"], "loss": "mse"}, {}, [],
                 "metrics[0]: accuracy needs a classification loss", "'accuracy'", id="accuracy-on-regression"),
    pytest.param(f"{TABLE}".replace("n_features: 8}", "n_features: 8, augment: [random_flip]}"), {}, [],
                 "data.augment[0]: random_flip works on images, shape (N, height, width, channels), but the data has"
                 " shape (N, 8)", None, id="image-augmentation-on-a-table"),
    # The model cannot read the data (a model section without the tiny recipe's mlp keys).
    pytest.param(f"{TABLE}model: {{name: cnn}}\n", {}, [],
                 "model: cnn needs images (N, H, W, C)", "float32 data of shape (N, 8)", id="cnn-on-a-table"),
    pytest.param(f"{TABLE}model: {{name: rnn}}\n", {}, [],
                 "model: rnn needs token ids (N, T) of integers or float sequences (N, T, F)",
                 "float32 data of shape (N, 8)", id="rnn-on-a-table"),
    pytest.param(f"{TABLE}model: {{name: transformer}}\n", {}, [],
                 "model: transformer needs token ids (N, T) of integers or float sequences (N, T, F)",
                 "float32 data of shape (N, 8)", id="transformer-on-a-table"),
    pytest.param({"data": {"source": "diabetes"}, "loss": "mse", "training": {"class_weight": "balanced"}}, {}, [],
                 "training.class_weight: weighs classes; this data has a regression target", "'balanced'",
                 id="class-weight-on-regression"),
    pytest.param({"data": {"source": "iris"}, "training": {"class_weight": {"rose": 2.0}}}, {}, [],
                 "training.class_weight: names no class of the data (its classes: setosa, versicolor, virginica)",
                 "'rose'", id="class-weight-unknown-class"),
]


@pytest.mark.parametrize("recipe, files, args, start, got", DATA_CASES)
def test_a_data_mistake_is_one_line(workspace, tiny_recipe, capsys, recipe, files, args, start, got):
    _write(workspace, tiny_recipe, recipe, files)
    before = _snapshot(workspace)
    _check_message(_error_line(["run", "recipe.yaml", "--out", "runs/new", *args], capsys), start, got)
    assert _snapshot(workspace) == before  # no run directory, the earlier run untouched


@pytest.mark.parametrize("recipe, start, got", [
    pytest.param({"training": {"epochs": 0}}, "training.epochs: must be > 0", "0", id="recipe"),
    pytest.param({"data": {"source": "iris"}, "loss": "binary_crossentropy"},
                 "loss: needs 2 classes but data.source 'iris' has 3 classes", "'binary_crossentropy'", id="data"),
    pytest.param({"training": {"overfit_batches": 0}}, "training.overfit_batches: must be > 0", "0", id="sanity-key"),
])
def test_a_mistake_in_a_fast_dev_run_is_one_line_and_leaves_nothing(workspace, tiny_recipe, capsys, monkeypatch,
                                                                   recipe, start, got):
    monkeypatch.setattr("tempfile.tempdir", str(workspace))  # its temporary run directory, removed or never made
    _write(workspace, tiny_recipe, recipe, {})
    before = _snapshot(workspace)
    _check_message(_error_line(["run", "recipe.yaml", "--fast-dev-run"], capsys), start, got)
    assert _snapshot(workspace) == before


# ------------------------------------------------------------------ the run directory
def test_out_at_an_earlier_run_leaves_it_untouched(workspace, tiny_recipe, capsys):
    _write(workspace, tiny_recipe, {}, {})
    before = _snapshot(workspace / "runs")
    message = _error_line(["run", "recipe.yaml", "--out", "runs/earlier"], capsys)
    assert message == "runs/earlier: already exists and is not empty; choose a new --out folder"
    assert _snapshot(workspace / "runs") == before


def test_out_under_a_file_is_one_line(workspace, tiny_recipe, capsys):
    _write(workspace, tiny_recipe, {}, {"notes.txt": "not a folder\n"})
    before = _snapshot(workspace)
    message = _error_line(["run", "recipe.yaml", "--out", "notes.txt/run"], capsys)
    assert message == "notes.txt/run: cannot create the folder (Not a directory); choose another --out"
    assert _snapshot(workspace) == before


def test_out_that_is_a_file_is_one_line(workspace, tiny_recipe, capsys):
    _write(workspace, tiny_recipe, {}, {"notes.txt": "not a folder\n"})
    before = _snapshot(workspace)
    message = _error_line(["run", "recipe.yaml", "--out", "notes.txt"], capsys)
    assert message == "notes.txt: is a file, not a folder; choose a new --out folder"
    assert _snapshot(workspace) == before


def test_out_that_cannot_be_created_is_one_line(workspace, tiny_recipe, capsys):
    # /proc takes no new folders, for root too (a chmod would not stop root).
    _write(workspace, tiny_recipe, {}, {})
    before = _snapshot(workspace)
    message = _error_line(["run", "recipe.yaml", "--out", "/proc/trainlab-run"], capsys)
    assert message.startswith("/proc/trainlab-run: cannot create the folder (") and message.endswith(
        "); choose another --out")
    assert _snapshot(workspace) == before


def test_empty_out_is_one_line(workspace, tiny_recipe, capsys):
    _write(workspace, tiny_recipe, {}, {})
    before = _snapshot(workspace)
    assert _error_line(["run", "recipe.yaml", "--out", ""], capsys) == "--out: must name a folder (it is empty), got ''"
    assert _snapshot(workspace) == before


# ----------------------------------------------------------------------------- trainlab resume
def _run_dir(folder, status="interrupted", recipe="name: stopped\ntraining: {epochs: 2, verbose: 0}\n", **files):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "recipe.yaml").write_text(recipe)
    (folder / "summary.json").write_text(json.dumps({"status": status, "name": "stopped"}))
    for name, content in files.items():
        (folder / name).write_bytes(content if isinstance(content, bytes) else content.encode())
    return folder


def _foreign_checkpoint(folder):
    """A checkpoint of another model (the recipe was edited after it was written)."""
    from trainlab.training import checkpoint

    (folder / "state").mkdir()
    data = checkpoint.encode({"epoch": 1, "batch": 0, "records": {"history": 0}, "variables": [["x", "float32", [3]]]},
                             {"var/float32": np.zeros(3, np.float32)})
    (folder / "state" / checkpoint.file_name(1, 0)).write_bytes(data)
    return folder


RESUME_CASES = [
    pytest.param(lambda w: "runs/missing", "runs/missing: is not a run directory (no such folder)", None,
                 id="resume-missing"),
    pytest.param(lambda w: "runs/earlier/history.csv",
                 "runs/earlier/history.csv: is a file, not a run directory (give the folder trainlab run wrote)", None,
                 id="resume-a-file"),
    pytest.param(lambda w: (w / "runs" / "empty").mkdir() or "runs/empty",
                 "runs/empty: is not a run, study or tune directory (no summary.json, study.json or tune.json)", None,
                 id="resume-not-a-run"),
    pytest.param(lambda w: _run_dir(w / "runs" / "s", **{"study.json": '{"name": "s", "status": "running"}'})
                 and "runs/s", "runs/s/study.json: has no source (written before studies could resume); run the "
                 "study again", None, id="resume-study-without-source"),
    pytest.param(lambda w: _run_dir(w / "runs" / "t", **{"tune.json": '{"name": "t", "status": "completed"}'})
                 and "runs/t", "runs/t: the search has completed; there is nothing to resume", "'completed'",
                 id="resume-tune-completed"),
    pytest.param(lambda w: "runs/earlier", "runs/earlier: the run has completed; there is nothing to resume",
                 "'completed'", id="resume-completed"),
    pytest.param(lambda w: _run_dir(w / "runs" / "x", **{"summary.json": "{oops"}) and "runs/x",
                 "runs/x/summary.json: is not valid JSON (", None, id="resume-summary-not-json"),
    pytest.param(lambda w: _run_dir(w / "runs" / "x", recipe="trainig: {epochs: 2}\n") and "runs/x",
                 "trainig: unknown key (did you mean 'training'?); valid keys: ", None, id="resume-recipe-unknown-key"),
    pytest.param(lambda w: _run_dir(w / "runs" / "x", recipe="# This run's model came from Python (trainlab.train("
                                    "..., model=...)); the keys below describe the rest.\nname: stopped\n")
                 and "runs/x",
                 "runs/x: this run's model came from Python; pass it again: trainlab.resume(run_dir, model=...)", None,
                 id="resume-model-from-python"),
    pytest.param(lambda w: _foreign_checkpoint(_run_dir(w / "runs" / "x")) and "runs/x",
                 "runs/x/state/checkpoint-00001-000000.ckpt: does not fit the run's model and optimizer: it holds 1"
                 " variables, the run 29, or their shapes differ (was recipe.yaml edited?)", None,
                 id="resume-checkpoint-of-another-model"),
]


@pytest.mark.parametrize("make, start, got", RESUME_CASES)
def test_a_resume_mistake_is_one_line(workspace, capsys, make, start, got):
    target = make(workspace)
    before = _snapshot(workspace)
    _check_message(_error_line(["resume", target], capsys), start, got)
    assert _snapshot(workspace) == before  # nothing written, the earlier run untouched


# --------------------------------------------------- wanted, needing a change in training/
def test_batch_size_larger_than_the_training_set(workspace, tiny_recipe, capsys):
    _write(workspace, tiny_recipe, {"training": {"batch_size": 500, "epochs": 1}}, {})  # 200 samples, 160 to train
    message = _error_line(["run", "recipe.yaml", "--out", "runs/new"], capsys)
    assert message.startswith("training.batch_size: ") and "160" in message and message.endswith(", got 500")
    assert not (workspace / "runs" / "new").exists()


@pytest.mark.parametrize(
    "patch, loss",
    [
        ({"data": {"source": "iris"}, "loss": "binary_crossentropy"}, "binary_crossentropy"),
        ({"data": {"source": "diabetes"}, "loss": "sparse_categorical_crossentropy"},
         "sparse_categorical_crossentropy"),
    ],
)
def test_loss_mistakes_show_the_loss(workspace, tiny_recipe, capsys, patch, loss):
    _write(workspace, tiny_recipe, patch, {})
    assert _error_line(["run", "recipe.yaml", "--out", "runs/new"], capsys).endswith(f", got {loss!r}")



# ------------------------------------------------------------------ mistakes in a search file (trainlab tune)
# The search file's own keys and its space; every one fails before a tune directory exists.
TUNE_CASES = [
    pytest.param({"trails": 4}, [], "trails: unknown key (did you mean 'trials'?)", None, id="tune-unknown-key"),
    pytest.param({"trials": 0}, [], "trials: must be > 0", "0", id="tune-trials-0"),
    pytest.param({"sampler": "bayes"}, [], "sampler: must be one of", "'bayes'", id="tune-sampler"),
    pytest.param({"pruner": "sha"}, [], "pruner.name: must be one of", "'sha'", id="tune-pruner"),
    pytest.param({"space": {"model.widht": {"choice": [[8]]}}}, [], "space.model.widht: unknown key", None,
                 id="tune-space-not-a-recipe-key"),
    pytest.param({"space": {"model.dropout": {"uniform": [0.4, 0.1]}}}, [], "space.model.dropout.uniform: must be [low, high] with low < high",
                 "[0.4, 0.1]", id="tune-reversed-range"),
    pytest.param({"space": {"optimizer.learning_rate": {"log_uniform": [0, 1]}}}, [],
                 "space.optimizer.learning_rate.log_uniform: a log range must lie above 0", "[0, 1]", id="tune-log-at-0"),
    pytest.param({"space": {"model.hidden": {"choice": []}}}, [], "space.model.hidden.choice: must be a non-empty list",
                 "[]", id="tune-empty-choice"),
    pytest.param({}, ["--set", "executor=dusk"], "executor: must be one of", "'dusk'", id="tune-executor"),
    pytest.param({"executor": "processes", "workers": 0}, [], "workers: must be > 0", "0", id="tune-workers-0"),
    pytest.param({"executor": "processes", "dask_address": "tcp://scheduler:8786"}, [],
                 "dask_address: applies to executor: dask only (executor is processes)", "'tcp://scheduler:8786'",
                 id="tune-dask-address-without-dask"),
    pytest.param({}, ["--mlflow", "nowhere"], "tracking.mlflow.uri: must be sqlite:///PATH", "'nowhere'",
                 id="tune-mlflow-uri"),
]


@pytest.mark.parametrize("patch, args, start, got", TUNE_CASES)
def test_a_search_mistake_is_one_line(workspace, tiny_recipe, capsys, patch, args, start, got):
    search = {"base": tiny_recipe, "space": {"model.dropout": {"uniform": [0.0, 0.5]}}, "trials": 2,
              "metric": "val_loss", **patch}
    (workspace / "search.yaml").write_text(yaml.safe_dump(search, sort_keys=False))
    before = _snapshot(workspace)
    _check_message(_error_line(["tune", "search.yaml", "--out", "runs/new", *args], capsys), start, got)
    assert _snapshot(workspace) == before  # no tune directory, the earlier run untouched
