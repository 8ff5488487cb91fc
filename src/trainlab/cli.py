"""The ``trainlab`` command: parse, call the library, print. Nothing else lives here.

A user's mistake prints one line, ``trainlab: error: <key or file>: <rule>, got <value>``,
on stderr and exits with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import signal
import sys
import threading
import warnings
from collections.abc import Sequence

from trainlab.errors import TrainlabError, did_you_mean

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130
EXIT_TERMINATED = 143


# What a positional argument with choices is called in messages: (key, word for one choice).
_CHOICE_WORDS = {"verb": ("command", "command"), "kind": ("list", "kind")}


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
            value = choice.group(1).strip("'\"")
            valid = [c.strip().strip("'\"") for c in choice.group(2).split(",")]
            raise TrainlabError(
                where, f"unknown {word}{did_you_mean(value, valid)}; valid {word}s: {', '.join(valid)}", value
            )
        if problem == "expected one argument":
            raise TrainlabError(name.split("/")[-1], f"needs a value (see {self.prog} --help)")
        raise TrainlabError(name.split("/")[-1], problem)


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
                     help="skip monitor.png, curves.png and layers.png at the end")


    check = verbs.add_parser("check", help="validate a recipe and print it resolved, without training")
    check.add_argument("recipe")
    check.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")

    names = verbs.add_parser("list", help="list the named components (losses, optimizers, ...)")
    names.add_argument("kind", nargs="?", choices=sorted(_registries()), help="which kind (default: all)")
    show = verbs.add_parser("show", help="print a run directory's summary from its records")
    show.add_argument("run_dir", help="a run directory written by trainlab run")

    figures = verbs.add_parser("figures", help="draw a run directory's figures from its records")
    figures.add_argument("run_dir", help="a run directory written by trainlab run")
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
        _unknown_argument(extra[0], args.verb, parser if args.verb is None else parser.verbs[args.verb])
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
        "data": "trainlab.data:sources", "metrics": "trainlab.metrics:",
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trainlab`` console script; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if threading.current_thread() is threading.main_thread():
        # Python runs the handler between bytecodes: a compiled epoch in flight finishes first.
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
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            return {"run": _run, "check": _check, "list": _list, "figures": _figures, "show": _show}[args.verb](args)
    except TrainlabError as exc:
        print(f"trainlab: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except OSError as exc:
        if exc.filename is None:  # not a file the user named or chose: a bug, show it
            raise
        # A file or folder the user named that cannot be read or written (--out under a file, no permission).
        print(f"trainlab: error: {exc.filename}: cannot read or write it ({exc.strerror})", file=sys.stderr)
        return EXIT_USAGE
    except Terminated:
        print("trainlab: terminated (SIGTERM); the run directory is marked interrupted", file=sys.stderr)
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        print("trainlab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so a run stops the same way: records kept, summary ``interrupted``."""


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated


def _show_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    """One line per warning, like errors: the user needs the message, not trainlab's source line."""
    print(f"trainlab: warning: {message}", file=sys.stderr)


def _run(args: argparse.Namespace) -> int:
    from trainlab.report.terminal import print_run_summary
    from trainlab.training.trainer import train

    overrides = list(args.overrides) + (["training.verbose=0"] if args.quiet else [])
    run = train(args.recipe, out=args.out, overrides=overrides)
    if args.figures:
        from trainlab.monitor import save_figures

        save_figures(run.dir)
    print_run_summary(run.summary, run.dir)
    return 0


def _show(args: argparse.Namespace) -> int:
    from trainlab.report.terminal import show_run

    show_run(args.run_dir)
    return 0


def _figures(args: argparse.Namespace) -> int:
    from trainlab.monitor import save_figures

    for path in save_figures(args.run_dir):
        print(path)
    return 0


def _check(args: argparse.Namespace) -> int:
    import yaml

    from trainlab.config import load_recipe

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


def _version() -> int:
    import keras
    import tensorflow as tf

    import trainlab

    print(f"trainlab {trainlab.__version__} (TensorFlow {tf.__version__}, Keras {keras.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
