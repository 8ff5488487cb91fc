"""Keep README.md and docs/recipes.md true to the code (no training here; all fast).

Conventions these tests rely on, so the docs stay checkable:

- docs/recipes.md documents recipe keys in tables whose header starts ``| key |``; the
  first cell of a row is the key's full path in backticks (`` `training.early_stopping.patience` ``)
  and the third its default (a YAML value in backticks, or ``null``).
- Component tables start with ``| loss |``, ``| optimizer |``, ``| schedule |``, ``| callback |``,
  ``| regularizer |`` or ``| source |``: one row per registered name, first cell in backticks.
- Every ```` ```yaml ```` block is a recipe (it must load and validate) unless its first line
  is ``# fragment``. A block whose first line is ``# NAME.yaml: ...`` is the file ``NAME.yaml``
  that commands in the same document refer to.
- In ```` ```console ```` blocks, ``$ trainlab ...`` lines are commands; a ``trainlab: error:``
  line right after one is the exact message it prints.
"""

from __future__ import annotations

import ast
import re
import shlex
import typing
from pathlib import Path

import pytest
from pydantic import BaseModel

from trainlab import callbacks, cli, data, losses, models, optimizers, regularizers, schedules
from trainlab.config import DataConfig, Recipe
from trainlab.config.loading import load_yaml
from trainlab import rundir
from trainlab.training import record_writer as records
from trainlab.training.prepare import load_recipe

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
RECIPES = ROOT / "docs" / "recipes.md"
CI = ROOT / ".ci" / "run"

INSTALL_AND_RUN = "python3 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/trainlab tour"
INSTALL_AND_TEST = 'python3 -m venv .venv && .venv/bin/pip install -e ".[test]" && .venv/bin/python -m pytest -q -n 2'

REGISTRIES = {
    "loss": losses.registry,
    "optimizer": optimizers.registry,
    "schedule": schedules.registry,
    "callback": callbacks.registry,
    "regularizer": regularizers.registry,
    "source": data.sources,
    "augmentation": data.augment.augmentations,
    "model": models.registry,
}


# --------------------------------------------------------------------------- parsing the docs
def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def fenced_blocks(text: str, language: str) -> list[tuple[int, str]]:
    """``(line number, body)`` of every fenced block in ``language``."""
    blocks, body, start = [], None, 0
    for number, line in enumerate(text.splitlines(), start=1):
        if body is None and line.strip() == f"```{language}":
            body, start = [], number
        elif body is not None and line.strip() == "```":
            blocks.append((start, "\n".join(body)))
            body = None
        elif body is not None:
            body.append(line)
    assert body is None, f"unclosed ```{language} block at line {start}"
    return blocks


def tables(text: str) -> list[tuple[list[str], list[list[str]]]]:
    """Markdown tables as ``(header cells, rows of cells)``."""
    found, lines = [], []
    for line in [*text.splitlines(), ""]:
        if line.startswith("|"):
            lines.append([cell.strip() for cell in line.strip().strip("|").split("|")])
        elif lines:
            found.append((lines[0], [row for row in lines[2:]]))
            lines = []
    return found


def tables_headed(text: str, first: str) -> list[list[str]]:
    """The rows of every table whose first header cell is ``first``."""
    return [row for header, rows in tables(text) if header[0] == first for row in rows]


def codes(cell: str) -> list[str]:
    """The backticked items of a table cell."""
    return re.findall(r"`([^`]+)`", cell)


def key_rows() -> dict[str, list[str]]:
    rows = {}
    for row in tables_headed(_text(RECIPES), "key"):
        (path,) = codes(row[0])[:1] or [None]
        assert path is not None, f"a key row needs its key path in backticks: {row}"
        assert path not in rows, f"key {path} is documented twice"
        rows[path] = row
    return rows


# --------------------------------------------------------------------------- the recipe model
def _section_model(annotation: typing.Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _section_model(arg)
        if found is not None:
            return found
    return None


def recipe_fields(model: type[BaseModel] = Recipe, prefix: str = "") -> dict[str, typing.Any]:
    """Every key path of the recipe (sections included) and its pydantic field."""
    fields = {}
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        fields[path] = field
        section = _section_model(field.annotation)
        if section is not None:
            fields.update(recipe_fields(section, f"{path}."))
    return fields


def test_the_walk_sees_nested_sections():
    paths = recipe_fields()
    for path in ("seed", "data.validation_split", "model.kernel_regularizer.l2",
                 "training.early_stopping.patience", "training.tensorboard.histogram_freq"):
        assert path in paths
    assert set(DataConfig.model_fields) <= {p.removeprefix("data.") for p in paths if p.startswith("data.")}


# --------------------------------------------------------------------------- recipe keys
def test_every_recipe_key_is_documented():
    missing = sorted(set(recipe_fields()) - set(key_rows()))
    assert not missing, f"docs/recipes.md has no '| `key` |' row for: {', '.join(missing)}"


def test_every_documented_key_exists():
    unknown = sorted(set(key_rows()) - set(recipe_fields()))
    assert not unknown, f"docs/recipes.md documents keys the Recipe model does not have: {', '.join(unknown)}"


def test_documented_defaults_match_the_code():
    fields, wrong = recipe_fields(), []
    for path, row in key_rows().items():
        if path not in fields:
            continue  # reported by test_every_documented_key_exists
        default = fields[path].get_default(call_default_factory=True)
        cell = row[2]
        if isinstance(default, BaseModel):
            continue  # a section: its keys have their own rows
        if cell == "null":
            documented = None
        else:
            items = codes(cell)
            assert len(items) == 1 and cell == f"`{items[0]}`", f"{path}: default cell must be `value` or null: {cell}"
            documented = load_yaml(items[0])
        if documented != default or type(documented) is bool and type(default) is not bool:
            wrong.append(f"{path}: docs say {cell}, code has {default!r}")
    assert not wrong, "\n".join(wrong)


# --------------------------------------------------------------------------- named components
@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_every_registered_name_and_alias_is_documented(kind):
    registry = REGISTRIES[kind]
    text = _text(RECIPES)
    # Registry keeps aliases private; reading them here keeps the docs' alias lists complete.
    names = registry.names() + sorted(getattr(registry, "_aliases", {}))
    missing = [name for name in names if f"`{name}`" not in text]
    assert not missing, f"docs/recipes.md does not mention {kind} names: {', '.join(missing)}"


@pytest.mark.parametrize("kind", sorted(REGISTRIES))
def test_component_tables_list_exactly_the_registered_names(kind):
    registry = REGISTRIES[kind]
    rows = tables_headed(_text(RECIPES), kind)
    documented = [codes(row[0])[0] for row in rows]
    assert sorted(documented) == registry.names()
    for row in rows:
        if len(row) > 1 and tables_has_aliases(kind):
            for alias in codes(row[1]):
                assert registry.canonical(alias) == codes(row[0])[0], f"{alias} is not an alias of {row[0]}"


def tables_has_aliases(kind: str) -> bool:
    return any(header[0] == kind and len(header) > 1 and header[1] == "aliases" for header, _ in tables(_text(RECIPES)))


def _arguments(cell: str) -> set[str]:
    return {c for c in codes(cell) if re.fullmatch(r"[a-z_0-9]+", c)}


@pytest.mark.parametrize("kind", ["loss", "schedule", "regularizer", "augmentation"])
def test_documented_arguments_are_the_factory_arguments(kind):
    registry = REGISTRIES[kind]
    for row in tables_headed(_text(RECIPES), kind):
        name = codes(row[0])[0]
        params = set(registry.entry(name).parameters())
        assert _arguments(row[2]) == params, f"{kind} {name}: docs list {sorted(_arguments(row[2]))}, code {sorted(params)}"


def test_documented_loss_tasks_match_the_traits():
    for row in tables_headed(_text(RECIPES), "loss"):
        name = codes(row[0])[0]
        assert row[3] == losses.traits(name).task, f"loss {name}: docs say task {row[3]}"


def test_documented_optimizer_arguments_match_keras():
    text = _text(RECIPES)
    common_line = text[text.index("### Optimizers"):text.index("| optimizer |")]
    common = _arguments(common_line) | {"clip_norm", "global_clip_norm", "clip_value"}
    for row in tables_headed(text, "optimizer"):
        name = codes(row[0])[0]
        params = set(optimizers.registry.entry(name).parameters())
        documented = _arguments(row[2]) | common
        assert documented >= params, f"optimizer {name}: undocumented arguments {sorted(params - documented)}"
        assert _arguments(row[2]) <= params, f"optimizer {name}: no such arguments {sorted(_arguments(row[2]) - params)}"


def test_documented_data_source_keys_match_the_loaders():
    for row in tables_headed(_text(RECIPES), "source"):
        source = codes(row[0])[0]
        config = DataConfig(source=source, path="x") if "path" in _arguments(row[2]) else DataConfig(source=source)
        assert _arguments(row[2]) == config.source_keys(), f"data source {source}: docs list {row[2]}"
        kind = data.SOURCE_TASKS.get(source)
        expected = {"regression": "regression", None: "inferred"}.get(kind)
        if expected is not None:
            assert row[1] == expected, f"data source {source}: docs say task {row[1]}"
        else:
            assert row[1] in ("binary", "multiclass", "binary or multiclass"), f"data source {source}: {row[1]}"


# --------------------------------------------------------------------------- YAML examples
def _recipe_blocks() -> list[tuple[str, int, str]]:
    found = []
    for path in (README, RECIPES):
        for line, body in fenced_blocks(_text(path), "yaml"):
            if body.lstrip().startswith("# fragment"):
                continue
            found.append((path.name, line, body))
    return found


def test_docs_have_recipe_blocks():
    names = {name for name, _, _ in _recipe_blocks()}
    assert names == {"README.md", "recipes.md"}


@pytest.mark.parametrize(("doc", "line", "body"), _recipe_blocks(), ids=lambda v: str(v)[:20])
def test_yaml_blocks_are_valid_recipes(doc, line, body):
    parsed = load_yaml(body)
    assert isinstance(parsed, dict), f"{doc}:{line}: a recipe block must be a mapping (mark fragments '# fragment')"
    if "vary" in parsed or "grid" in parsed:  # a study
        from trainlab.studies import load_study

        load_study(parsed)
        return
    load_recipe(parsed)  # raises TrainlabError naming the key when the example is wrong


# --------------------------------------------------------------------------- console examples
def _named_files(text: str) -> dict[str, str]:
    files = {}
    for _, body in fenced_blocks(text, "yaml"):
        match = re.match(r"# ([\w.-]+\.yaml):", body)
        if match:
            files[match.group(1)] = body
    return files


def _console_cases() -> list[tuple[str, str, str | None]]:
    cases = []
    for path in (README, RECIPES):
        for _, body in fenced_blocks(_text(path), "console"):
            lines = body.splitlines()
            for i, line in enumerate(lines):
                if line.startswith("$ trainlab "):
                    after = lines[i + 1] if i + 1 < len(lines) else ""
                    expected = after if after.startswith("trainlab: error: ") else None
                    cases.append((path.name, line[2:].split("  #")[0].strip(), expected))
    return cases


def test_docs_have_console_examples_with_errors():
    assert sum(expected is not None for _, _, expected in _console_cases()) >= 5


@pytest.mark.parametrize(("doc", "command", "expected"), _console_cases(), ids=lambda v: str(v)[:60])
def test_console_examples_do_what_the_docs_say(doc, command, expected, tmp_path, monkeypatch, capsys):
    args = shlex.split(command)[1:]
    files = _named_files(_text(ROOT / "README.md" if doc == "README.md" else RECIPES))
    args = [str(_write(tmp_path, a, files[a])) if a in files else a for a in args]
    if args[0] == "run":
        if expected is None:
            # A successful run trains; check the same recipe and overrides instead.
            args = ["check"] + [a for a in _without_options(args[1:], ("--out",), ("-q", "--quiet", "--fast-dev-run"))]
        else:
            # It must fail before training; should it not, keep the mistake cheap and out of runs/.
            args += ["--out", str(tmp_path / "run"), "--set", "training.epochs=1", "-q"]
    monkeypatch.chdir(ROOT)
    if args[0] == "study" and expected is None:
        # A successful study trains many runs; validate the study and its overrides instead.
        from trainlab.studies import load_study

        overrides = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
        assert load_study(args[1], overrides).plans
        return
    if args[0] == "tune" and expected is None:
        # A successful search trains many trials; validate the search file and its overrides instead.
        from trainlab.tune import load_tune

        overrides = [args[i + 1] for i, a in enumerate(args) if a == "--set"]
        assert load_tune(args[1], overrides).space
        return
    status = cli.main(args)
    err = capsys.readouterr().err.strip()
    if expected is None:
        assert status == 0, f"{doc}: `{command}` failed: {err}"
    else:
        assert status == 2, f"{doc}: `{command}` exited {status}"
        assert err == expected


def _write(folder: Path, name: str, body: str) -> Path:
    path = folder / name
    path.write_text(body + "\n", encoding="utf-8")
    return path


def _without_options(args: list[str], with_value: tuple[str, ...], flags: tuple[str, ...]) -> list[str]:
    out, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a in with_value:
            skip = True
        elif a not in flags:
            out.append(a)
    return out


def test_error_format_is_documented():
    for path in (README, RECIPES):
        assert "trainlab: error: <key" in _text(path)
        assert "status 2" in _text(path)


# --------------------------------------------------------------------------- README
def test_readme_has_the_two_set_up_commands():
    blocks = [body.strip() for _, body in fenced_blocks(_text(README), "bash")]
    assert blocks[0] == INSTALL_AND_RUN, "the README's first command installs trainlab and runs the tour"
    assert INSTALL_AND_TEST in blocks


def test_readme_test_command_is_the_ci_command():
    ci = [line.strip() for line in _text(CI).splitlines() if re.match(r"\s*\S*python\S* -m pytest", line)]
    assert len(ci) == 1, f".ci/run should run pytest once: {ci}"
    readme_test = INSTALL_AND_TEST.split(" && ")[-1]
    assert readme_test == ci[0]


def test_readme_python_blocks_compile():
    blocks = fenced_blocks(_text(README), "python")
    assert blocks
    for line, body in blocks:
        compile(ast.parse(body), f"README.md:{line}", "exec")


def test_readme_names_every_example():
    text = _text(README)
    examples = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "examples").glob("*.yaml"))
    assert examples
    for example in examples:
        assert f"[`{example}`]({example})" in text, f"README.md's examples table lacks {example}"
        load_recipe(ROOT / example)


def test_readme_names_every_cli_verb_and_list_kind(capsys):
    assert cli.main(["--help"]) == 0
    verbs = re.search(r"\{([a-z,-]+)\}", capsys.readouterr().out).group(1).split(",")
    text = _text(README)
    for verb in verbs:
        assert f"`trainlab {verb}" in text, f"README.md does not document `trainlab {verb}`"
    assert "`trainlab --version`" in text
    assert cli.main(["list"]) == 0
    kinds = [line.split(":")[0] for line in capsys.readouterr().out.splitlines() if ":" in line]
    assert kinds
    list_row = next(line for line in text.splitlines() if line.startswith("| `trainlab list"))
    for kind in kinds:
        assert f"`{kind}`" in list_row, f"README.md's `trainlab list` row lacks {kind}"


def test_readme_run_directory_table_matches_the_records():
    rows = {codes(row[0])[0]: row for row in tables_headed(_text(README), "file")}
    files = [rundir.RECIPE, rundir.HISTORY, rundir.STEPS, rundir.LAYERS, rundir.SUMMARY, rundir.MODEL]
    for name in files + [rundir.TENSORBOARD + "/"]:
        assert name in rows, f"README.md's run-directory table lacks {name}"
    assert codes(rows[rundir.STEPS][1]) == list(records.STEP_COLUMNS)
    assert codes(rows[rundir.LAYERS][1]) == list(records.LAYER_COLUMNS)
    history = codes(rows[rundir.HISTORY][1])
    assert history[:3] == ["epoch", "loss", "val_loss"]
    assert history[-4:] == ["lr", "grad_norm", "grad_norm_max", "epoch_time_s"]


def test_docs_link_to_each_other():
    assert "(docs/recipes.md)" in _text(README)
    for benchmark in ("trainer_speed.py", "tour_speed.py"):
        assert f"python benchmarks/{benchmark}" in _text(README)
        assert (ROOT / "benchmarks" / benchmark).is_file()
    assert "(docs/tour.md)" in _text(README) and (ROOT / "docs" / "tour.md").is_file()


def test_documented_model_keys_are_the_builder_keys():
    for row in tables_headed(_text(RECIPES), "model"):
        name = codes(row[0])[0]
        keys = set(models.recipe_keys(name))
        assert _arguments(row[2]) == keys, f"model {name}: docs list {sorted(_arguments(row[2]))}, code {sorted(keys)}"
