"""The ``trainlab`` command: parse, call the library, print. Nothing else lives here.

A user's mistake prints one line, ``trainlab: error: <key or file>: <rule>, got <value>``,
on stderr and exits with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import json
import re
import signal
import sys
import threading
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from trainlab import runtime
from trainlab.errors import TrainlabError, did_you_mean

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


# Verbs that never load TensorFlow in this process: the readers of run directories, and the tour (its
# worker processes load it, each quietly: trainlab.tour.workers).
_NO_TENSORFLOW = {"show", "report", "figures", "tour"}

# What a positional argument with choices is called in messages: (key, word for one choice).
_CHOICE_WORDS = {"verb": ("command", "command"), "kind": ("list", "kind"), "COMMAND": ("", "command")}


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors worded as trainlab's one line: ``<where>: <rule>, got <value>``."""

    verbs: dict[str, argparse.ArgumentParser]  # the sub-command parsers, by verb (top-level parser only)

    def error(self, message: str) -> None:  # type: ignore[override]
        verb = self.prog.removeprefix("trainlab").strip() or "trainlab"
        required = re.fullmatch(r"the following arguments are required: (.+)", message)
        if required:
            raise TrainlabError(verb, f"missing {required.group(1).upper()} (see {self.prog} --help)")
        argument = re.fullmatch(r"argument ([^:]+): (.*)", message, flags=re.DOTALL)
        if argument is None:
            raise TrainlabError(verb, message)
        name, problem = argument.groups()
        choice = re.fullmatch(r"invalid choice: (.+?) \(choose from (.+)\)", problem, flags=re.DOTALL)
        if choice:
            where, word = _CHOICE_WORDS.get(name, (name, "value"))
            where = where or verb  # a verb's own commands (trainlab schedules plot): name the verb
            value = choice.group(1).strip("'\"")
            valid = [c.strip().strip("'\"") for c in choice.group(2).split(",")]
            raise TrainlabError(
                where, f"unknown {word}{did_you_mean(value, valid)}; valid {word}s: {', '.join(valid)}", value
            )
        if problem == "expected one argument":
            raise TrainlabError(name.split("/")[-1], f"needs a value (see {self.prog} --help)")
        raise TrainlabError(name.split("/")[-1], problem)


_MLFLOW_HELP = ("log to MLflow at this tracking URI when done (sqlite:///mlflow.db, http://HOST:5000); "
                "short for --set tracking.mlflow.uri=URI")


def _parser() -> _Parser:
    parser = _Parser(prog="trainlab", description="Train neural networks well with TensorFlow/Keras.")
    parser.add_argument("--version", action="store_true", help="print versions and exit")
    verbs = parser.add_subparsers(dest="verb", parser_class=_Parser)

    run = verbs.add_parser("run", help="train a model as a recipe says")
    run.add_argument("recipe", help="a recipe YAML file")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                     help="override a recipe key (repeatable), e.g. --set optimizer.learning_rate=1e-2")
    run.add_argument("--out", help="run directory (default runs/<name>-<timestamp>)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    run.add_argument("--no-figures", dest="figures", action="store_false",
                     help="skip the figures (monitor.png, curves.png, ...) and report.html at the end")
    run.add_argument("--mlflow", metavar="URI", help=_MLFLOW_HELP)
    run.add_argument("--distribute", choices=["none", "mirrored", "multi_worker"],
                     help="train data-parallel: mirrored (this machine's GPUs) or multi_worker (the hosts TF_CONFIG"
                          " names, each running this command); short for --set training.distribute=KIND")
    run.add_argument("--fast-dev-run", action="store_true",
                     help="a sanity run: 1 epoch of 2 training and 2 validation batches through every code path"
                          " (records, checkpoint and its read-back, diagnosis, figures, report), each part timed, in a"
                          " temporary run directory removed afterwards unless --out is given; short for --set"
                          " training.fast_dev_run=true")

    resume = verbs.add_parser("resume", help="continue a run, study or tune that stopped (killed, interrupted): "
                                             "what finished is kept, the rest continues")
    resume.add_argument("run_dir", help="a run directory written by trainlab run, a study's or a tune's directory")
    resume.add_argument("-q", "--quiet", action="store_true", help="no progress display")
    resume.add_argument("--no-figures", dest="figures", action="store_false",
                        help="skip the figures (monitor.png, curves.png, ...) and report.html at the end")
    check = verbs.add_parser("check", help="validate a recipe and print it resolved, without training")
    check.add_argument("recipe")
    check.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")

    names = verbs.add_parser("list", help="list the named components (losses, optimizers, ...)")
    names.add_argument("kind", nargs="?", choices=sorted(_registries()), help="which kind (default: all)")
    show = verbs.add_parser("show", help="print a run directory's summary from its records")
    show.add_argument("run_dir", help="a run directory written by trainlab run")

    figures = verbs.add_parser("figures", help="draw a run directory's figures from its records")
    figures.add_argument("run_dir", help="a run directory written by trainlab run")

    report = verbs.add_parser("report", help="write report.html and figures from the records of a run, a study or a tune")
    report.add_argument("run_dir", help="a run directory written by trainlab run, a study or a tune directory")

    study = verbs.add_parser("study", help="compare recipes over several seeds (variants train together)")
    study.add_argument("study", help="a study YAML file (base recipe, vary/grid, seeds, metric)")
    study.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                       help="override a study key (repeatable); base.KEY reaches the recipe, e.g. "
                            "--set base.training.epochs=20 --set seeds=[0,1]")
    study.add_argument("--out", help="study directory (default runs/<name>-<timestamp>)")
    study.add_argument("--no-figures", dest="figures", action="store_false",
                       help="skip the figures and report.html")
    study.add_argument("--mlflow", metavar="URI", help=_MLFLOW_HELP)

    tune = verbs.add_parser("tune", help="search hyper-parameters (Optuna samplers; populations train fused, "
                                         "losers pruned at rungs)")
    tune.add_argument("search", help="a search YAML file (base recipe, space, trials, sampler, pruner, metric)")
    tune.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                      help="override a search key (repeatable); base.KEY reaches the recipe, e.g. --set trials=12")
    tune.add_argument("--out", help="tune directory (default runs/<name>-<timestamp>)")
    tune.add_argument("--mlflow", metavar="URI", help=_MLFLOW_HELP)

    tour = verbs.add_parser("tour", help="replay the tutorial, section by section, into one report.html")
    tour.add_argument("--out", metavar="DIR",
                      help="folder for report.html and every run (default runs/tour-<timestamp>)")
    tour.add_argument("--quick", action="store_true",
                      help="fewer epochs, seeds and samples, the same code paths (a minute or two)")
    tour.add_argument("--only", nargs="+", type=_integer, metavar="SECTION",
                      help="run only these sections (1-11), e.g. --only 1 4")
    tour.add_argument("--mnist", metavar="PATH",
                      help="a local Keras-format mnist.npz for section 8 (default: scikit-learn's bundled digits)")
    _add_inference_verbs(verbs)
    _add_tool_verbs(verbs)
    parser.verbs = dict(verbs.choices)
    return parser


def _parse(argv: Sequence[str] | None) -> argparse.Namespace | int:
    """Parse the command line; an exit code when argparse is done (``--help``)."""
    parser = _parser()
    try:
        args, extra = parser.parse_known_args(argv)
    except SystemExit as exc:  # --help printed its text
        return exc.code if isinstance(exc.code, int) else 0
    if extra:
        verb = parser if args.verb is None else parser.verbs[args.verb]
        verb = getattr(verb, "verbs", {}).get(getattr(args, "tool", None), verb)  # trainlab schedules plot ...
        _unknown_argument(extra[0], args.verb, verb)
    return args


def _unknown_argument(item: str, verb: str | None, parser: argparse.ArgumentParser) -> None:
    if not item.startswith("-"):
        raise TrainlabError(verb or "trainlab", "unexpected argument", item)
    option = item.split("=")[0]
    options = [o for action in parser._actions for o in action.option_strings]  # noqa: SLF001 (argparse has no API)
    # Match without the dashes, which every option shares and which would make anything look close.
    long = {o.lstrip("-"): o for o in options if o.startswith("--")}
    close = difflib.get_close_matches(option.lstrip("-"), list(long), n=1, cutoff=0.6)
    hint = f" (did you mean {long[close[0]]!r}?)" if close else ""
    raise TrainlabError(option, f"unknown option of {parser.prog}{hint}; options: {', '.join(options)}")


def _registries() -> dict[str, str]:
    return {
        "losses": "trainlab.losses", "optimizers": "trainlab.optimizers", "schedules": "trainlab.schedules",
        "regularizers": "trainlab.regularizers", "models": "trainlab.models", "callbacks": "trainlab.callbacks",
        "data": "trainlab.data:sources", "metrics": "trainlab.metrics:", "augmentations": "trainlab.data.augment:",
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trainlab`` console script; returns the exit status."""
    if threading.current_thread() is threading.main_thread():
        # While training, trainlab.training.interrupt defers this handler: the step in flight finishes
        # and a checkpoint is written first.
        signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        args = _parse(argv)
        if isinstance(args, int):
            return args
        if args.version:
            return _version()
        if args.verb is None:
            _parser().print_help()
            return EXIT_USAGE
        if args.verb not in _NO_TENSORFLOW:
            runtime.import_tensorflow()  # now, so that its start-up notices stay off the terminal
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return {"run": _run, "resume": _resume, "check": _check, "list": _list, "figures": _figures,
                    "show": _show, "report": _report, "optimizers": _optimizers, "schedules": _schedules,
                    "lr-find": _lr_find, "study": _study, "tune": _tune, "tour": _tour, "predict": _predict,
                    "evaluate": _evaluate, "export": _export}[args.verb](args)
    except TrainlabError as exc:
        print(f"trainlab: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        if exc.filename is None:  # not a file the user named or chose: a bug, show it
            raise
        # A file or folder the user named that cannot be read or written (--out under a file, no permission).
        print(f"trainlab: error: {exc.filename}: cannot read or write it ({exc.strerror})", file=sys.stderr)
        return EXIT_USAGE
    except Terminated as exc:
        print(f"trainlab: terminated (SIGTERM){_resume_hint(exc)}", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt as exc:
        print(f"trainlab: interrupted{_resume_hint(exc)}", file=sys.stderr)
        return EXIT_INTERRUPTED


def _resume_hint(exc: BaseException) -> str:
    """``; the run directory ... trainlab resume DIR`` when training was interrupted (it says where: a run's,
    a study's or a tune's directory)."""
    dirs = getattr(exc, "run_dirs", None)
    kind = getattr(exc, "dir_kind", "run")
    if not dirs or len(dirs) != 1:
        return f"; the {kind} directory is marked interrupted" if dirs else ""
    return f"; the {kind} directory is marked interrupted; continue with: trainlab resume {dirs[0]}"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so a run stops the same way: records kept, summary ``interrupted``."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def _show_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    """One line per warning, like errors: the user needs the message, not trainlab's source line."""
    print(f"trainlab: warning: {message}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    from trainlab.training import train  # a verb's own: --help and a mistake stay fast

    overrides = list(args.overrides) + (["training.verbose=0"] if args.quiet else []) + _mlflow_override(args)
    if args.distribute is not None:
        overrides.append(f"training.distribute={args.distribute}")
    if args.fast_dev_run or _asks_fast_dev_run(args.recipe, overrides):
        return _fast_dev_run(args, overrides)
    run = train(args.recipe, out=args.out, overrides=overrides)
    return _finish_run(run, args.figures)


def _asks_fast_dev_run(recipe: str, overrides: list[str]) -> bool:
    """Whether the recipe (with its overrides) sets ``training.fast_dev_run`` (parsed only: nothing is built)."""
    from trainlab.config import load_recipe  # a verb's own: --help and a mistake stay fast

    return load_recipe(recipe, overrides)[0].training.fast_dev_run


def _fast_dev_run(args: argparse.Namespace, overrides: list[str]) -> int:
    from trainlab.tools.fast_dev_run import fast_dev_run  # a verb's own: --help and a mistake stay fast

    result = fast_dev_run(args.recipe, out=args.out, overrides=overrides, figures=args.figures)
    for line in result.lines():
        print(line)
    if result.error is not None:
        print(f"trainlab: error: fast dev run, {result.error}", file=sys.stderr)
        return EXIT_FAILED
    return 0


def _resume(args: argparse.Namespace) -> int:
    """A run, a study or a tune, by what the folder holds (``tune.json``, ``study.json``, else a run's files)."""
    from pathlib import Path

    folder = Path(args.run_dir)
    if (folder / "tune.json").is_file():
        from trainlab.tune import resume_tune  # a verb's own: --help and a mistake stay fast

        _print_tune(resume_tune(folder, echo=print))
        return 0
    if (folder / "study.json").is_file():
        from trainlab.studies import resume_study  # a verb's own: --help and a mistake stay fast

        _print_study(resume_study(folder, figures=args.figures, echo=print))
        return 0
    if folder.is_dir() and not any((folder / name).is_file() for name in ("summary.json", "recipe.yaml")):
        raise TrainlabError(str(folder), "is not a run, study or tune directory (no summary.json, study.json or "
                            "tune.json)")
    from trainlab.training import resume  # a verb's own: --help and a mistake stay fast

    run = resume(args.run_dir, verbose=0 if args.quiet else None)
    return _finish_run(run, args.figures)


def _finish_run(run, figures: bool) -> int:
    """Figures and report, the summary table; status 1 when training failed (non-finite values)."""
    from trainlab.report.terminal import print_run_summary  # a verb's own: --help and a mistake stay fast

    if not run.chief:  # another worker of a multi-worker run: the chief reports
        where = run.summary.get("distribute", {})
        print(f"worker {where.get('worker', '?')} of {where.get('workers', '?')}: {run.summary.get('status')};"
              " the chief wrote the run directory")
        return 0 if run.summary.get("status") == "completed" else EXIT_FAILED
    if figures:
        from trainlab.report import write_report  # a verb's own: --help and a mistake stay fast

        write_report(run.dir, save_figures=True)  # the figures, and report.html showing them
    print_run_summary(run.summary, run.dir)
    mlflow = run.recipe.tracking.mlflow
    if mlflow is not None:
        from trainlab.tracking import log_run  # a verb's own: --help and a mistake stay fast

        print(f"mlflow: run {log_run(run.dir, mlflow)} at {mlflow.uri}")
    if run.summary.get("status") == "completed":
        return 0
    print(f"trainlab: run failed: {run.summary.get('error')}", file=sys.stderr)
    return EXIT_FAILED


def _mlflow_override(args: argparse.Namespace) -> list[str]:
    """``--mlflow URI`` as the ``--set`` it stands for (the URI quoted, so YAML keeps it as written)."""
    return [f"tracking.mlflow.uri={json.dumps(args.mlflow)}"] if args.mlflow else []


def _tune(args: argparse.Namespace) -> int:
    from trainlab.tune import tune  # a verb's own: --help and a mistake stay fast

    _print_tune(tune(args.search, out=args.out, overrides=list(args.overrides) + _mlflow_override(args)))
    return 0


def _print_tune(result) -> None:
    """A finished search's trials (outcome and values), its best trial, its report and where it is."""
    keys = [dim.key for dim in result.spec.space]
    last = [key.rsplit(".", 1)[-1] for key in keys]
    # A key by its last part (learning_rate), or its last two where that is ambiguous (optimizer.name, model.name).
    labels = [".".join(key.split(".")[-2:]) if part == "name" or last.count(part) > 1 else part
              for key, part in zip(keys, last)]

    def values(row: dict) -> str:
        return "  ".join(f"{label}={_short(row.get(key))}" for key, label in zip(keys, labels))

    metric = result.spec.config.metric
    for row in result.trials:
        print(f"trial {row['trial']:3d}  {row['status']:9s}  {metric} {row['value']:<7.4g}  epochs "
              f"{row['epochs_run'] if row['epochs_run'] is not None else '-':>3}  {values(row)}")
    if result.best_trial is not None:
        print(f"best: trial {result.best_trial['trial']}, {metric} {result.best_trial['value']:.4g}: "
              f"{values(result.best_trial)}")
        print(f"train it: trainlab run {result.dir / 'best.yaml'}")
    if (result.dir / "report.html").is_file():
        print(f"report: {result.dir / 'report.html'}")
    print(f"tune directory: {result.dir}")
    if result.mlflow_run_id is not None:
        print(f"mlflow: tune run {result.mlflow_run_id} at {result.spec.mlflow.uri}")


def _short(value: object) -> str:
    """A trial's value as a line shows it: floats to 3 significant digits."""
    return f"{value:.3g}" if isinstance(value, float) else str(value).replace(" ", "")


def _study(args: argparse.Namespace) -> int:
    from trainlab.studies import study  # a verb's own: --help and a mistake stay fast

    _print_study(study(args.study, out=args.out, overrides=list(args.overrides) + _mlflow_override(args),
                       figures=args.figures))
    return 0


def _print_study(result) -> None:
    """A finished study's table, and its MLflow run."""
    from trainlab.studies.terminal import print_study_summary  # a verb's own: --help and a mistake stay fast

    print_study_summary(result.dir)
    if result.mlflow_run_id is not None:
        print(f"mlflow: study run {result.mlflow_run_id} at {result.spec.mlflow.uri}")


def _tour(args: argparse.Namespace) -> int:
    from trainlab.tour import tour  # a verb's own: --help and a mistake stay fast

    with _as_flags(only="--only", mnist="--mnist"):
        result = tour(args.out, quick=args.quick, only=args.only, mnist=args.mnist)
    return EXIT_FAILED if result.failed else 0


def _show(args: argparse.Namespace) -> int:
    from trainlab.report.terminal import show_run  # a verb's own: --help and a mistake stay fast

    show_run(args.run_dir)
    return 0


def _figures(args: argparse.Namespace) -> int:
    from trainlab.monitor import save_figures  # a verb's own: --help and a mistake stay fast

    for path in save_figures(args.run_dir):
        print(path)
    return 0


def _report(args: argparse.Namespace) -> int:
    from pathlib import Path

    from trainlab.report import write_report  # a verb's own: --help and a mistake stay fast

    if (Path(args.run_dir) / "study.json").is_file():  # a study directory: its tables, figures and page
        from trainlab.studies.terminal import print_study_summary  # a verb's own: --help and a mistake stay fast
        from trainlab.studies.figures import study_figures  # a verb's own: --help and a mistake stay fast
        from trainlab.studies.report import write_study_report  # a verb's own: --help and a mistake stay fast
        from trainlab.studies.stats import write_tables  # a verb's own: --help and a mistake stay fast

        write_tables(args.run_dir)
        study_figures(args.run_dir)
        print_study_summary(args.run_dir)
        print(write_study_report(args.run_dir))
        return 0
    if (Path(args.run_dir) / "tune.json").is_file():  # a tune directory: its figures and page
        from trainlab.tune.report import write_tune_report  # a verb's own: --help and a mistake stay fast

        print(write_tune_report(args.run_dir, redraw=True))
        return 0
    print(write_report(args.run_dir, save_figures=True))
    return 0


def _check(args: argparse.Namespace) -> int:
    import yaml

    from trainlab.training.prepare import load_recipe  # a verb's own: --help and a mistake stay fast

    recipe, _, name = load_recipe(args.recipe, args.overrides)
    print(f"# {name}: valid")
    print(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False), end="")
    return 0


def _list(args: argparse.Namespace) -> int:
    import importlib

    for kind, target in sorted(_registries().items()):
        if args.kind and kind != args.kind:
            continue
        module, colon, attr = target.partition(":")
        module = importlib.import_module(module)
        # A registry's names, or for "module:" the module's own names() (metrics come from Keras).
        names = getattr(module, attr).names() if attr else module.names() if colon else module.registry.names()
        print(f"{kind}: {', '.join(names)}")
    return 0


# ---------------------------------------------------------------- using a run: predict, evaluate, export
def _add_inference_verbs(verbs: argparse._SubParsersAction) -> None:  # noqa: SLF001 (argparse has no public name)
    predict = verbs.add_parser("predict", help="predict with a run's model from raw inputs: a CSV, an .npz, images")
    predict.add_argument("run_dir", help="a run directory written by trainlab run")
    predict.add_argument("input", help="a CSV file (tables), an .npz (array x), an image file or a folder of images")
    predict.add_argument("--out", metavar="FILE", help="write the predictions CSV here (default: print it)")
    predict.add_argument("--batch-size", type=_integer, help="samples per forward pass (default 256)")

    evaluate = verbs.add_parser("evaluate", help="a run's metrics on labelled data, with a confusion matrix and a "
                                                 "calibration or residual check: evaluation.json and .html")
    evaluate.add_argument("run_dir", help="a run directory written by trainlab run")
    evaluate.add_argument("data", nargs="?", help="a CSV with the target column, an .npz (x and y), or a folder "
                                                  "with one sub-folder of images per class (default: the run's "
                                                  "test split)")
    evaluate.add_argument("--split", choices=["test", "val", "train"],
                          help="evaluate on this split of the run's own data instead of DATA (default: test)")
    evaluate.add_argument("--target", help="the CSV's target column (default: the recipe's data.target, else the "
                                           "one column that is not a feature)")
    evaluate.add_argument("--out", metavar="DIR", help="folder for evaluation.json and evaluation.html (default "
                                                       "RUN_DIR/evaluation-<data>)")
    evaluate.add_argument("--batch-size", type=_integer, help="samples per forward pass (default 256)")

    export = verbs.add_parser("export", help="write a run's model with its preprocessing as keras, saved_model "
                                             "or onnx, taking raw inputs")
    export.add_argument("run_dir", help="a run directory written by trainlab run")
    export.add_argument("--format", required=True, choices=["keras", "saved_model", "onnx"],
                        help="keras (.keras file), saved_model (a SavedModel folder, serving signature) or onnx "
                             "(needs pip install \"trainlab[onnx]\")")
    export.add_argument("--out", metavar="PATH", help="where to write (default RUN_DIR/export/model.keras, "
                                                      "RUN_DIR/export/saved_model or RUN_DIR/export/model.onnx)")


def _batch_size(args: argparse.Namespace) -> int | None:
    if args.batch_size is not None and args.batch_size < 1:
        raise TrainlabError("--batch-size", "must be >= 1", args.batch_size)
    return args.batch_size


def _predict(args: argparse.Namespace) -> int:
    from trainlab.inference import load  # a verb's own: --help and a mistake stay fast
    from trainlab.inference.predictions import predictions_csv, write_text  # a verb's own

    batch_size = _batch_size(args)
    text = predictions_csv(load(args.run_dir), args.input, batch_size)
    if args.out is None:
        sys.stdout.write(text)
    else:
        print(f"predictions: {write_text(args.out, text)}", file=sys.stderr)
    return 0


def _evaluate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from trainlab.inference import load, write_evaluation  # a verb's own: --help and a mistake stay fast

    batch_size = _batch_size(args)
    if args.data is not None and args.split is not None:
        raise TrainlabError("--split", "evaluates the run's own split; give DATA or --split, not both", args.split)
    predictor = load(args.run_dir)
    if args.data is None:
        split = args.split or "test"
        evaluation = predictor.evaluate_split(split, batch_size)
        stem = split
    else:
        evaluation = predictor.evaluate_file(args.data, args.target, batch_size)
        stem = Path(args.data.rstrip("/\\")).stem or "data"
    out = Path(args.out) if args.out is not None else Path(args.run_dir) / f"evaluation-{stem}"
    json_path, html_path = write_evaluation(evaluation, out)
    scores = {**evaluation.metrics}
    if evaluation.calibration is not None:
        scores["ece"] = evaluation.calibration["ece"]
    if evaluation.regression is not None:
        scores.update({k: evaluation.regression[k] for k in ("mae", "rmse", "r2")})
    print(f"{evaluation.run} on {evaluation.data} ({evaluation.n} samples): "
          + ", ".join(f"{k} {v:.4f}" for k, v in scores.items()))
    print(f"evaluation: {json_path}")
    print(f"page: {html_path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from trainlab.inference import load  # a verb's own: --help and a mistake stay fast

    from trainlab.inference.serving import signature  # a verb's own: --help and a mistake stay fast

    predictor = load(args.run_dir)
    path = predictor.export(args.out, format=args.format)
    print(f"{args.format}: {path}")
    for line in signature(predictor):
        print(f"  {line}")
    return 0


# ---------------------------------------------------------------- tools: race, schedules, lr-find
def _integer(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer, got {text!r}") from None


def _real(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None


def _add_tool_verbs(verbs: argparse._SubParsersAction) -> None:  # noqa: SLF001 (argparse has no public name)
    """``trainlab optimizers race``, ``trainlab schedules plot`` and ``trainlab lr-find``."""
    optimizers = verbs.add_parser("optimizers", help="optimizer tools: race optimizers on test functions")
    tools = optimizers.add_subparsers(dest="tool", metavar="COMMAND", required=True, parser_class=_Parser)
    race = tools.add_parser("race", help="race optimizers on analytic test functions (tutorial section 2)")
    race.add_argument("--optimizers", default="sgd,momentum,adam,rmsprop,adagrad", metavar="NAME,...",
                      help="registered optimizer names, comma-separated (momentum: SGD with momentum 0.9)")
    race.add_argument("--functions", default="quadratic,rosenbrock,ill_conditioned,beale", metavar="NAME,...",
                      help="test functions, comma-separated")
    race.add_argument("--steps", type=_integer, default=50, help="optimizer steps on each function (default 50)")
    race.add_argument("--lr", type=_real, default=0.1, help="learning rate of every optimizer (default 0.1)")
    race.add_argument("--tol", type=_real, default=1e-3, help="loss that counts as reaching the minimum (1e-3)")
    race.add_argument("--out", help="new folder for race.png and race.json (default runs/race-<timestamp>)")
    optimizers.verbs = dict(tools.choices)

    schedules = verbs.add_parser("schedules", help="learning-rate schedule tools: plot schedules")
    tools = schedules.add_subparsers(dest="tool", metavar="COMMAND", required=True, parser_class=_Parser)
    plot = tools.add_parser("plot", help="plot schedules over steps, or a recipe's schedule over its run")
    plot.add_argument("specs", nargs="*", metavar="SPEC",
                      help="a schedule name or a mapping '{name: cosine, initial_learning_rate: 0.1, ...}'")
    plot.add_argument("--steps", type=_integer, help="steps to plot (default 500; not with --recipe)")
    plot.add_argument("--recipe", help="plot this recipe's schedule over its run's steps instead")
    plot.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                      help="override a key of the --recipe (repeatable)")
    plot.add_argument("--out", help="the image to write (.png, .svg or .pdf; default schedules.png, "
                                    "or <name>-schedule.png with --recipe)")
    schedules.verbs = dict(tools.choices)

    lr_find = verbs.add_parser("lr-find", help="learning-rate range test: which learning rate to train at")
    lr_find.add_argument("recipe", help="a recipe YAML file")
    lr_find.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                         help="override a recipe key (repeatable)")
    lr_find.add_argument("--start", type=_real, default=1e-7, help="first learning rate (default 1e-7)")
    lr_find.add_argument("--end", type=_real, default=10.0, help="last learning rate (default 10)")
    lr_find.add_argument("--steps", type=_integer, default=100, help="training steps over the range (default 100)")
    lr_find.add_argument("--out", help="new folder for lr_find.png and lr_find.json "
                                       "(default runs/lr-find-<name>-<timestamp>)")


@contextmanager
def _as_flags(**flags: str) -> Iterator[None]:
    """Name a library argument's mistake by its command-line flag: ``steps: ...`` -> ``--steps: ...``."""
    try:
        yield
    except TrainlabError as exc:
        root = re.split(r"[.\[]", exc.where, maxsplit=1)[0]
        if root not in flags:
            raise
        raise TrainlabError(flags[root], exc.rule, exc.value) from None


def _optimizers(args: argparse.Namespace) -> int:
    from rich.console import Console

    from trainlab.tools.race import race  # a verb's own: --help and a mistake stay fast

    names = [n.strip() for n in args.optimizers.split(",") if n.strip()]
    functions = [n.strip() for n in args.functions.split(",") if n.strip()]
    with _as_flags(optimizers="--optimizers", functions="--functions", steps="--steps", learning_rate="--lr",
                   tol="--tol"):
        result = race(names, functions, steps=args.steps, learning_rate=args.lr, tol=args.tol)
    folder = result.save(args.out)
    console = Console()
    console.print(result.table())
    console.print(f"records: {folder}", soft_wrap=True, highlight=False)
    return 0


def _schedules(args: argparse.Namespace) -> int:
    from pathlib import Path

    from trainlab.tools import schedule_plot  # a verb's own: --help and a mistake stay fast

    if args.recipe is not None and args.specs:
        raise TrainlabError("--recipe", "plots the recipe's own schedule; give SPECs or --recipe, not both",
                            args.recipe)
    if args.recipe is not None and args.steps is not None:
        raise TrainlabError("--steps", "does not apply with --recipe (the run's steps are epochs x steps per epoch)",
                            args.steps)
    if args.recipe is None and args.overrides:
        raise TrainlabError("--set", "applies to a --recipe only", args.overrides[0])
    if args.recipe is None:
        specs = [schedule_plot.parse_spec(text, f"specs[{i}]") for i, text in enumerate(args.specs)]
        with _as_flags(steps="--steps"):
            figure = schedule_plot.plot(specs, 500 if args.steps is None else args.steps)
        note = None
        default = "schedules.png"
    else:
        found = schedule_plot.recipe_schedule(args.recipe, args.overrides)
        figure, note = found.figure(), [found.note, *found.caveats]
        default = f"{found.name}-schedule.png"
    out = Path(args.out or default)
    if out.suffix.lower() not in (".png", ".svg", ".pdf"):
        raise TrainlabError("--out", "must end in .png, .svg or .pdf", str(out))
    path = schedule_plot.save_png(figure, out)
    for line in note or ():
        print(line)
    print(f"figure: {path.resolve()}")
    return 0


def _lr_find(args: argparse.Namespace) -> int:
    from trainlab.tools.lr_find import lr_find  # a verb's own: --help and a mistake stay fast

    with _as_flags(steps="--steps", start="--start", end="--end"):
        result = lr_find(args.recipe, steps=args.steps, start=args.start, end=args.end, out=args.out,
                         overrides=args.overrides)
    ran = f"{len(result.losses)} of {result.steps} steps, learning rate {result.start:g} to {result.end:g}"
    print(f"{result.name}: {ran}" + (" (stopped: the loss diverged)" if result.diverged else ""))
    if result.min_loss_lr is not None:
        print(f"  lowest smoothed loss at learning rate {result.min_loss_lr:.2g}")
    if result.steepest_lr is not None:
        print(f"  steepest descent at learning rate {result.steepest_lr:.2g}")
    for note in result.notes:
        print(f"  note: {note}")
    if result.suggestion is not None:
        print(f"suggested learning rate: {result.suggestion:g} ({result.rule})")
        if result.setting() is not None:
            print(f"  try: trainlab run {args.recipe} --set {result.setting()}")
    print(f"records: {result.dir}")
    return 0


def _version() -> int:
    import keras
    import tensorflow as tf

    import trainlab  # a verb's own: --help and a mistake stay fast

    print(f"trainlab {trainlab.__version__} (TensorFlow {tf.__version__}, Keras {keras.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
