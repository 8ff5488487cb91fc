"""Data for training: sources, checks, task inference, splits and scaling.

``load(config, seed)`` turns a recipe's ``data:`` section into :class:`Splits`;
``from_arrays(x, y)`` does the same for the user's own arrays. Sources are named
in the :data:`sources` registry: synthetic_classification, synthetic_regression,
digits, breast_cancer, wine, iris, diabetes (scikit-learn, bundled), csv, npz,
mnist and image_folder (local files; nothing is ever downloaded), synthetic_sequences,
and ``arrays``, which names the user's own arrays given to ``from_arrays``. A CSV file's
columns are a :class:`Table`, encoded as numbers (categories one-hot, gaps filled) by a
:class:`TableEncoder` fitted on the training split. ``from_datasets`` wraps ``tf.data``
pipelines (:class:`Streams`) for data too large to hold in memory.
:mod:`trainlab.data.augment` names the augmentations of ``data.augment``.

Example:
    >>> from trainlab.data import load
    >>> from trainlab.data.config import DataConfig
    >>> splits = load(DataConfig(source="wine", test_split=0.2), seed=0)
    >>> splits.task, splits.n_classes, splits.describe()["splits"]["test"]["n"]
    ('multiclass', 3, 36)
"""

from trainlab.data.config import DataConfig
from trainlab.data import augment, files, images, sequences  # noqa: F401  (register the sources and augmentations)
from trainlab.data._load import features_array, from_arrays, load
from trainlab.data.sources import SOURCE_TASKS, RawData, sources
from trainlab.data._splits import Splits, split_indices
from trainlab.data.preprocessing import Preprocessing, fit_scaler
from trainlab.data._streams import Streams, from_datasets
from trainlab.data.table import Table, TableEncoder
from trainlab.data.targets import MAX_INFERRED_CLASSES, infer_kind

__all__ = [
    "MAX_INFERRED_CLASSES",
    "Preprocessing",
    "SOURCE_TASKS",
    "DataConfig",
    "RawData",
    "Splits",
    "Streams",
    "Table",
    "TableEncoder",
    "features_array",
    "fit_scaler",
    "from_arrays",
    "from_datasets",
    "infer_kind",
    "load",
    "sources",
    "split_indices",
]
