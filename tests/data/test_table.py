"""Tables from CSV: categories one-hot from the training split, gaps filled or refused, weights, round trips.

The encodings are compared with scikit-learn's ``SimpleImputer`` and
``OneHotEncoder(handle_unknown="infrequent_if_exist")`` fitted on the same training rows.
"""

import csv
import json

import numpy as np
import pytest
from sklearn.impute import SimpleImputer
from sklearn.preprocessing import OneHotEncoder

import trainlab
from trainlab.data import load, split_indices
from trainlab.data.config import DataConfig
from trainlab.data.preprocessing import Preprocessing
from trainlab.data.table import MISSING_VALUES, OTHER, Table, TableEncoder, text_columns
from trainlab.errors import TrainlabError

COLORS = ["red", "blue", "green", "violet", "gray"]  # well-separated frequencies: 2 kept, 3 rare


def _shop_rows(n=80, seed=0):
    """A table with a numeric column with gaps, two text columns (one with gaps) and a text target."""
    rng = np.random.default_rng(seed)
    rows = [["size", "color", "city", "price", "kind"]]
    for i in range(n):
        color = rng.choice(COLORS, p=[0.45, 0.3, 0.1, 0.08, 0.07])
        city = ["" if i % 9 == 4 else str(rng.choice(["paris", "oslo"]))][0]
        size = rng.normal(10, 3)
        price = rng.normal(50, 10)
        kind = "dear" if size + (4 if color == "red" else 0) + rng.normal(0, 1) > 12 else "cheap"
        size_cell = ["", "NA", "nan"][i % 3] if i % 7 == 3 else f"{size:.3f}"
        rows.append([size_cell, str(color), city, f"{price:.2f}", kind])
    return rows


def _write(tmp_path, rows, name="shop.csv"):
    with open(tmp_path / name, "w", newline="") as fh:
        csv.writer(fh).writerows(rows)
    return name


def _load(tmp_path, rows=None, **keys):
    name = _write(tmp_path, _shop_rows() if rows is None else rows)
    config = {"source": "csv", "path": name, "target": "kind", "validation_split": 0.25, "standardize": False, **keys}
    return load(DataConfig(**config), seed=0, base_dir=tmp_path)


def _split_rows(rows, target="kind", validation_split=0.25):
    """The training and validation rows' indices, as trainlab's split makes them (stratified on the class codes)."""
    header, body = rows[0], rows[1:]
    labels = [row[header.index(target)] for row in body]
    codes = np.searchsorted(sorted(set(labels)), labels)
    train, val, _ = split_indices(len(body), validation_split, 0.0, 0, labels=codes)
    return train, val


def _column(rows, name, indices):
    j = rows[0].index(name)
    return np.array([rows[1:][i][j] for i in indices], dtype=object)


def _as_nan(cells):
    return np.array([np.nan if c in MISSING_VALUES else float(c) for c in cells])[:, None]


def _as_none(cells):
    return np.array([None if c == "" else c for c in cells], dtype=object)[:, None]


# -- the encoding, against scikit-learn -------------------------------------------------------------


@pytest.mark.parametrize("strategy", ["mean", "median", "most_frequent"])
def test_encoding_matches_scikit_learn_fitted_on_the_training_rows(tmp_path, strategy):
    rows = _shop_rows()
    splits = _load(tmp_path, rows, missing=strategy, max_categories=2)
    train, val = _split_rows(rows)
    assert splits.feature_names == [
        "size", "color=blue", "color=red", f"color={OTHER}", "city=oslo", "city=paris", f"city={OTHER}", "price",
    ]
    assert splits.class_names == ["cheap", "dear"] and splits.task == "binary"

    size = SimpleImputer(strategy=strategy).fit(_as_nan(_column(rows, "size", train)))
    city_fill = SimpleImputer(strategy="most_frequent", missing_values=None).fit(_as_none(_column(rows, "city", train)))
    # max_categories=2 kept categories and <other>: scikit-learn counts the infrequent column among its max_categories.
    color = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=3, sparse_output=False)
    color.fit(_column(rows, "color", train)[:, None])
    city = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=3, sparse_output=False)
    city.fit(city_fill.transform(_as_none(_column(rows, "city", train))))
    assert color.get_feature_names_out().tolist() == ["x0_blue", "x0_red", "x0_infrequent_sklearn"]
    assert city.get_feature_names_out().tolist() == ["x0_oslo", "x0_paris"]  # no rare city: <other> stays 0

    for x, indices in ((splits.x_train, train), (splits.x_val, val)):
        expected = np.hstack([
            size.transform(_as_nan(_column(rows, "size", indices))),
            color.transform(_column(rows, "color", indices)[:, None]),
            city.transform(city_fill.transform(_as_none(_column(rows, "city", indices)))),
            np.zeros((len(indices), 1)),
            _as_nan(_column(rows, "price", indices)),
        ])
        np.testing.assert_allclose(x, expected.astype(np.float32), rtol=1e-6)


def test_gaps_are_filled_from_the_training_rows_only(tmp_path):
    rows = _shop_rows()
    encoder = _load(tmp_path, rows, missing="mean").preprocessing.table
    train, _ = _split_rows(rows)
    whole = np.nanmean(_as_nan(_column(rows, "size", range(80))))
    assert encoder.columns[0].fill == pytest.approx(np.nanmean(_as_nan(_column(rows, "size", train))), rel=1e-12)
    assert encoder.columns[0].fill != pytest.approx(whole, rel=1e-9)


def test_a_categorical_gap_is_the_most_frequent_training_category_whatever_the_strategy():
    table = Table.from_columns({"c": ["b", "a", "b", "", "a", "NA"], "x": ["1", "2", "", "4", "5", "6"]})
    for strategy in ("mean", "median", "most_frequent"):
        encoder = TableEncoder.fit(table, missing=strategy)
        assert encoder.columns[0].fill == "a"  # a and b twice each: the tie goes to the earlier in sorted order
        np.testing.assert_array_equal(encoder.transform(table)[3, :3], [1, 0, 0])
    assert TableEncoder.fit(table, missing="median").columns[1].fill == 4.0
    assert TableEncoder.fit(table, missing="most_frequent").columns[1].fill == 1.0  # all once: the smallest


@pytest.mark.parametrize("cell", MISSING_VALUES)
def test_every_missing_marker_is_a_gap(cell):
    table = Table.from_columns({"x": ["1", cell, "3"], "c": ["a", "b", cell]})
    encoder = TableEncoder.fit(table, missing="mean")
    np.testing.assert_array_equal(encoder.transform(table), [[1, 1, 0, 0], [2, 0, 1, 0], [3, 1, 0, 0]])
    with pytest.raises(TrainlabError, match="row 1, column 'x': missing value"):
        TableEncoder.fit(table).transform(table)


def test_max_categories_keeps_the_most_frequent_and_ties_go_to_sorted_order():
    table = Table.from_columns({"color": ["c", "a", "b", "a", "c", "d", "a", "b"]})  # a 3, b 2, c 2, d 1
    encoder = TableEncoder.fit(table, max_categories=2)
    assert encoder.feature_names == ["color=a", "color=b", "color=<other>"]
    np.testing.assert_array_equal(encoder.transform(table).argmax(axis=1), [2, 0, 1, 0, 2, 2, 0, 1])
    assert TableEncoder.fit(table, max_categories=1).feature_names == ["color=a", "color=<other>"]
    assert len(TableEncoder.fit(table).feature_names) == 5  # all four kept, and <other>


def test_unseen_values_are_other_and_columns_are_found_by_name():
    encoder = TableEncoder.fit(Table.from_columns({"n": ["1", "2"], "color": ["red", "blue"]}))
    new = Table.from_columns({"extra": ["x", "y"], "color": ["purple", "red"], "n": [7, 8.5]})
    np.testing.assert_array_equal(encoder.transform(new), [[7, 0, 0, 1], [8.5, 0, 1, 0]])


def test_unseen_values_match_scikit_learns_infrequent_column():
    train = np.array(["a"] * 5 + ["b"] * 3 + ["c"] * 2 + ["d"], dtype=object)
    new = np.array(["d", "zzz", "a", "c"], dtype=object)
    encoder = TableEncoder.fit(Table.from_columns({"v": train}), max_categories=2)
    ours = encoder.transform(Table.from_columns({"v": new}))
    theirs = OneHotEncoder(handle_unknown="infrequent_if_exist", max_categories=3, sparse_output=False)
    np.testing.assert_array_equal(ours, theirs.fit(train[:, None]).transform(new[:, None]))


def test_a_listed_numeric_column_is_categorical_with_its_text_kept(tmp_path):
    rows = [["zip", "n", "y"]] + [[["02134", "1000", "2134"][i % 3], str(i), str(i % 2)] for i in range(30)]
    splits = _load(tmp_path, rows, target="y", categorical=["zip"])
    assert splits.feature_names == ["zip=02134", "zip=1000", "zip=2134", "zip=<other>", "n"]
    assert _load(tmp_path, rows, target="y").feature_names == ["zip", "n"]  # auto: numbers are numeric


def test_auto_finds_the_columns_holding_text():
    table = Table.from_columns(
        {"a": ["1", "NA", "2e3"], "b": ["1", "x", ""], "c": ["", "", ""], "d": ["inf", "1", "2"]}
    )
    assert text_columns(table) == ["b"]


# -- missing cells refused, and other errors --------------------------------------------------------


def test_a_missing_cell_under_error_names_the_first_in_the_file(tmp_path):
    rows = _shop_rows()
    with pytest.raises(TrainlabError) as info:
        _load(tmp_path, rows)
    first = next(i for i, row in enumerate(rows[1:]) if row[0] in MISSING_VALUES or row[2] in MISSING_VALUES)
    assert first == 3 and rows[first + 1][0] == ""
    assert str(info.value) == (
        "shop.csv: line 5, column 'size': missing value; set data.missing to mean, median or most_frequent to fill"
        " gaps, got ''"
    )


def test_a_missing_column_is_named():
    encoder = TableEncoder.fit(Table.from_columns({"colour": ["a"], "size": [1]}))
    with pytest.raises(TrainlabError) as info:
        encoder.transform(Table.from_columns({"color": ["a"], "size": [1]}, origin="new.csv"))
    assert str(info.value) == "new.csv: column not found (did you mean 'color'?); columns: color, size, got 'colour'"


def test_a_text_cell_in_a_numeric_column_at_transform_time():
    encoder = TableEncoder.fit(Table.from_columns({"size": ["1", "2"]}))
    with pytest.raises(TrainlabError) as info:
        encoder.transform({"size": ["3", "big"]})
    assert str(info.value) == (
        "inputs: row 1, column 'size': must be a number (a numeric column; list it in data.categorical to treat its"
        " values as categories), got 'big'"
    )


def test_fit_refuses_what_it_cannot_use():
    table = Table.from_columns({"x": ["", "NA"], "c": ["a", "b"]})
    with pytest.raises(TrainlabError) as info:
        TableEncoder.fit(table, missing="median")
    assert str(info.value) == (
        "inputs: column 'x' has no value in the training rows to fill its gaps with (data.missing: median),"
        " got 'only missing cells'"
    )
    with pytest.raises(TrainlabError, match=r"data.categorical: column not found in inputs \(did you mean 'c'\?\)"):
        TableEncoder.fit(table, categorical=["cc"])
    with pytest.raises(TrainlabError, match="data.max_categories: must be an integer >= 1, got 0"):
        TableEncoder.fit(table, max_categories=0)
    with pytest.raises(TrainlabError, match="data.missing: must be one of error, mean, median, most_frequent"):
        TableEncoder.fit(table, missing="zero")


def test_categorical_config_checks():
    with pytest.raises(TrainlabError, match="data.categorical: lists a column twice, got 'a'"):
        DataConfig(source="csv", path="x.csv", categorical=["a", "b", "a"])
    with pytest.raises(TrainlabError, match="data.max_categories: does not apply to data source 'iris'"):
        DataConfig(source="iris", max_categories=3)


# -- weights --------------------------------------------------------------------------------------


def test_a_weight_column_is_split_with_the_rows_and_is_not_a_feature(tmp_path):
    rows = [["a", "w", "y"]] + [[str(i), str(i % 5), str(i % 2)] for i in range(40)]
    splits = _load(tmp_path, rows, target="y", weight="w")
    assert splits.feature_names == ["a"]
    np.testing.assert_array_equal(splits.w_train, splits.x_train[:, 0] % 5)
    np.testing.assert_array_equal(splits.w_val, splits.x_val[:, 0] % 5)
    assert splits.w_train.dtype == np.float32


@pytest.mark.parametrize("cell", ["-1", "", "NA", "heavy", "inf"])
def test_a_weight_must_be_a_finite_number_at_least_zero(tmp_path, cell):
    rows = [["a", "w", "y"]] + [[str(i), "1", str(i % 2)] for i in range(20)]
    rows[6][1] = cell
    with pytest.raises(TrainlabError) as info:
        _load(tmp_path, rows, target="y", weight="w")
    assert str(info.value) == f"shop.csv: line 7, column 'w': a weight must be a finite number >= 0, got {cell!r}"


# -- round trips, tables from Python ---------------------------------------------------------------


def test_to_dict_and_from_dict_transform_identically(tmp_path):
    encoder = _load(tmp_path, missing="median", max_categories=2).preprocessing.table
    again = TableEncoder.from_dict(json.loads(json.dumps(encoder.to_dict())))
    table = Table.from_csv(tmp_path / "shop.csv")
    np.testing.assert_array_equal(again.transform(table), encoder.transform(table))
    assert again.feature_names == encoder.feature_names and again.to_dict() == encoder.to_dict()
    with pytest.raises(TrainlabError, match="is not a table encoding this trainlab reads"):
        TableEncoder.from_dict({**encoder.to_dict(), "format": 99})
    with pytest.raises(TrainlabError, match="is not a table encoding this trainlab reads"):
        TableEncoder.from_dict({**encoder.to_dict(), "columns": [{"name": "x", "kind": "text"}]})


def test_a_frame_with_its_columns_in_another_order_gives_the_same_matrix(tmp_path):
    rows = _shop_rows()
    encoder = _load(tmp_path, rows, missing="mean").preprocessing.table
    expected = encoder.transform(Table.from_csv(tmp_path / "shop.csv"))
    header, body = rows[0], rows[1:]
    columns = {name: [row[j] for row in body] for j, name in enumerate(header)}
    shuffled = {name: columns[name] for name in ["price", "kind", "city", "color", "size"]}
    np.testing.assert_array_equal(encoder.transform(Table.from_frame(shuffled)), expected)
    numbers = {**shuffled, "price": [float(v) for v in shuffled["price"]],
               "size": [None if v in MISSING_VALUES else float(v) for v in shuffled["size"]]}
    np.testing.assert_allclose(encoder.transform(numbers), expected, rtol=1e-15)


def test_a_pandas_frame(tmp_path):
    pd = pytest.importorskip("pandas")
    rows = _shop_rows()
    encoder = _load(tmp_path, rows, missing="mean").preprocessing.table
    frame = pd.read_csv(tmp_path / "shop.csv")[["price", "city", "color", "size"]]
    np.testing.assert_allclose(encoder.transform(frame), encoder.transform(Table.from_csv(tmp_path / "shop.csv")))


def test_from_columns_text_of_python_values():
    table = Table.from_columns({"a": [1, 2.0, 2.5, None, float("nan"), True], "b": np.arange(6)})
    assert table.columns["a"].tolist() == ["1", "2", "2.5", "", "", "True"]
    assert Table.from_columns({"a": "x", "b": 3}).columns["b"].tolist() == ["3"]  # single values: one row
    with pytest.raises(TrainlabError, match="column 'b' needs as many values as column 'a' \\(2\\), got 1"):
        Table.from_columns({"a": [1, 2], "b": [1]})


def test_preprocessing_transforms_raw_rows_like_the_training_data(tmp_path):
    splits = _load(tmp_path, missing="median", standardize=True)
    prep = Preprocessing.from_dict(json.loads(json.dumps(splits.preprocessing.to_dict())))
    table = Table.from_csv(tmp_path / "shop.csv")
    train, _ = _split_rows(_shop_rows())
    np.testing.assert_allclose(prep.transform(table.rows(train)), splits.x_train, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(splits.x_train.mean(axis=0), 0, atol=1e-5)  # one-hot columns are standardized too


def test_from_arrays_takes_tables_too():
    x = Table.from_columns({"c": ["a", "b"] * 10, "n": list(range(20))})
    x_val = Table.from_columns({"n": [1, 2], "c": ["a", "zz"]})
    splits = trainlab.data.from_arrays(x, np.arange(20) % 2, {"standardize": False}, x_val=x_val, y_val=[0, 1])
    assert splits.feature_names == ["c=a", "c=b", "c=<other>", "n"] and splits.x_train.shape == (20, 4)
    np.testing.assert_array_equal(splits.x_val, [[1, 0, 0, 1], [0, 0, 1, 2]])


# -- end to end -------------------------------------------------------------------------------------


def test_a_recipe_on_a_table_trains_and_writes_the_encoding(tmp_path, tiny_recipe):
    _write(tmp_path, _shop_rows())
    recipe = {**tiny_recipe, "data": {"source": "csv", "path": str(tmp_path / "shop.csv"), "target": "kind",
                                      "missing": "median", "max_categories": 3}}
    run = trainlab.train(recipe, out=tmp_path / "run", overrides=["training.epochs=2"])
    assert run.summary["status"] == "completed"
    written = json.loads((run.dir / "preprocessing.json").read_text())
    names = written["feature_names"]
    assert names[0] == "size" and names[4] == "color=<other>" and {"color=blue", "color=red"} <= set(names[1:4])
    assert written["table"]["missing"] == "median" and written["input"]["shape"] == [len(written["feature_names"])]
    assert [c["kind"] for c in written["table"]["columns"]] == ["numeric", "categorical", "categorical", "numeric"]
    assert written["class_names"] == ["cheap", "dear"]
