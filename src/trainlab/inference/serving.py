"""The serving model: raw inputs in, what :meth:`Predictor.predict` returns out, all in Keras layers.

The run's model is wrapped, unchanged, between Keras' own layers and ops, so the artifact needs
neither trainlab nor Python code of its own to serve (a model given from Python with layers of its
own still needs them):

- in front, what ``preprocessing.json`` says the raw inputs went through: an image source's
  ``Rescaling`` (its raw pixel scale), then ``Normalization(mean, variance)`` (the standardization,
  per feature or per channel). A table whose columns were encoded (text categories one-hot, gaps
  filled) takes **one input per raw column**, named as the column (see :func:`input_names`): numbers
  (float32, NaN for a gap) or text (string); each categorical column is a ``StringLookup`` one-hot
  whose ``<other>`` column takes rare and unseen values (and a fixed 0/1 ``Dense`` that orders the
  columns as training did), each numeric gap gets the training fill value.
- behind, the probabilities :meth:`Predictor.predict` gives: a sigmoid or softmax over logits,
  and a binary model's single unit ``p`` as the two columns ``1 - p, p``.

The other inputs take one tensor named ``inputs``: ``(N, F)`` features, ``(N, H, W, C)`` raw
pixels, ``(N, T)`` int32 token ids. The output is named ``probabilities`` (classification) or
``predictions`` (regression).
"""

from __future__ import annotations

from typing import Any

import keras
import numpy as np

# ``predictor`` below is a :class:`trainlab.inference.predictor.Predictor`, whose methods call this module: it is
# not imported here, so the two modules do not import each other.
Predictor = Any

INPUT = "inputs"


def serving_model(predictor: Predictor) -> keras.Model:
    """The run's model behind its preprocessing and in front of the probability head (see the module).

    Example:
        >>> serving = serving_model(trainlab.load("runs/bc"))
        >>> serving.predict(raw_rows)           # == predictor.predict(raw_rows), to float rounding
    """
    prep = predictor.preprocessing
    if prep.table is not None:
        raw, x = _table_inputs(prep)
    else:
        raw = keras.Input(shape=tuple(prep.input_shape), dtype=prep.input_dtype, name=INPUT)
        x = raw
        image = prep.meta.get("image")
        if image is not None and float(image.get("scale", 1.0)) != 1.0:
            x = keras.layers.Rescaling(float(image["scale"]), name="pixel_scale")(x)
    if prep.mean is not None:
        x = keras.layers.Normalization(axis=-1, mean=prep.mean, variance=np.square(prep.std),
                                       name="standardize")(x)
    out = predictor.model(x)
    out = _head(out, predictor)
    return keras.Model(raw, out, name=f"{predictor.model.name}_serving")


def _head(out: Any, predictor: Predictor) -> Any:
    name = "probabilities" if predictor.class_names is not None else "predictions"
    if predictor.class_names is None:
        width = int(out.shape[-1])
        if width == 1:
            out = keras.layers.Reshape((), name="one_target")(out)
        return keras.layers.Identity(name=name)(out)
    if int(out.shape[-1]) == 1:
        if predictor.from_logits:
            out = keras.layers.Activation("sigmoid", name="sigmoid")(out)
        # The two classes' probabilities, as predict gives them: 1 - p for the first class, p for the second.
        first = keras.layers.Rescaling(-1.0, offset=1.0, name="first_class")(out)
        return keras.layers.Concatenate(name=name)([first, out])
    if predictor.from_logits:
        out = keras.layers.Softmax(name="softmax")(out)
    return keras.layers.Identity(name=name)(out)


def input_names(prep: Any) -> dict[str, str]:
    """For a table whose columns were encoded: each raw column's input name in the serving model.

    The column's name, with every character other than a letter, a digit, ``_``, ``.`` or ``-``
    replaced by ``_`` (what Keras and a SavedModel signature allow), made unique with ``_2``, ``_3``, ...
    """
    names: dict[str, str] = {}
    for column in prep.table.columns:
        base = "".join(c if c.isascii() and (c.isalnum() or c in "_.-") else "_" for c in column.name)
        base = base if base and base[0].isalnum() else f"c{base}"
        name, n = base, 1
        while name in names.values():
            n += 1
            name = f"{base}_{n}"
        names[column.name] = name
    return names


def _table_inputs(prep: Any) -> tuple[dict[str, Any], Any]:
    """One input per raw column and the encoded features (the table encoding as Keras layers)."""
    encoder = prep.table
    names = input_names(prep)
    inputs: dict[str, Any] = {}
    blocks = []
    for column in encoder.columns:
        name = names[column.name]
        if column.kind == "numeric":
            cell = keras.Input(shape=(), dtype="float32", name=name)
            value = cell
            if column.fill is not None:  # a gap (NaN) gets the training fill value
                value = keras.ops.where(keras.ops.isnan(cell), np.float32(column.fill), cell)
            blocks.append(keras.layers.Reshape((1,), name=f"column_{name}")(value))
        else:
            cell = keras.Input(shape=(), dtype="string", name=name)
            blocks.append(_one_hot(cell, column, name, tuple(encoder.missing_values)))
        inputs[name] = cell
    x = blocks[0] if len(blocks) == 1 else keras.layers.Concatenate(name="encoded")(blocks)
    return inputs, x


def _one_hot(cell: Any, column: Any, name: str, missing_values: tuple[str, ...]) -> Any:
    """A categorical column's one-hot block: its kept categories in order, then ``<other>``.

    ``StringLookup`` puts an unknown value at index 0, the categories at 1..K and the missing-cell
    markers after them; a fixed 0/1 ``Dense`` then sends each index to its training column: a
    category to its own, an unknown value to ``<other>``, a marker to the fill category (or to
    ``<other>`` when the run refused gaps).
    """
    categories = list(column.categories)
    markers = [m for m in missing_values if m not in categories]
    vocabulary = categories + markers
    k = len(categories)
    lookup = keras.layers.StringLookup(vocabulary=vocabulary, num_oov_indices=1, output_mode="one_hot",
                                       name=f"lookup_{name}")(cell)
    route = np.zeros((len(vocabulary) + 1, k + 1), np.float32)
    route[0, k] = 1.0
    for i in range(k):
        route[1 + i, i] = 1.0
    fill = categories.index(column.fill) if column.fill in categories else k
    for j in range(len(markers)):
        route[1 + k + j, fill] = 1.0
    return keras.layers.Dense(k + 1, use_bias=False, trainable=False,
                              kernel_initializer=keras.initializers.Constant(route), name=f"one_hot_{name}")(lookup)


def signature(predictor: Predictor) -> list[str]:
    """The serving model's inputs and output in words: ``inputs: inputs float32 (N, 30)``, ``output: ...``."""
    prep = predictor.preprocessing
    if prep.table is not None:
        names = input_names(prep)
        ins = ", ".join(f"{names[c.name]} {'float32' if c.kind == 'numeric' else 'string'} (N,)"
                        for c in prep.table.columns)
    else:
        what = "raw pixels" if "image" in prep.meta else "token ids" if prep.input_dtype == "int32" else "features"
        ins = f"{INPUT} {prep.input_dtype} (N, {', '.join(map(str, prep.input_shape))}) ({what})"
    if predictor.class_names is not None:
        out = f"probabilities float32 (N, {len(predictor.class_names)}): {', '.join(predictor.class_names)}"
    else:
        out = f"predictions float32: {', '.join(predictor.output_names)}"
    return [f"inputs: {ins}", f"output: {out}"]


def has_text_inputs(predictor: Predictor) -> bool:
    """Whether the serving model takes text (a table with categorical columns)."""
    table = predictor.preprocessing.table
    return table is not None and any(c.kind == "categorical" for c in table.columns)
