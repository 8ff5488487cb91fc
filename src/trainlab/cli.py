"""The ``trainlab`` command: parse, call the library, print. Nothing else lives here.

A user's mistake prints one line, ``trainlab: error: <key or file>: <rule>, got <value>``,
on stderr and exits with status 2; never a traceback.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from trainlab.errors import TrainlabError

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # one line, like every other trainlab error
        raise TrainlabError(self.prog, message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="trainlab", description="Train neural networks well with TensorFlow/Keras.")
    parser.add_argument("--version", action="store_true", help="print versions and exit")
    verbs = parser.add_subparsers(dest="verb", parser_class=_Parser)

    run = verbs.add_parser("run", help="train a model as a recipe says")
    run.add_argument("recipe", help="a recipe YAML file")
    run.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                     help="override a recipe key (repeatable), e.g. --set optimizer.learning_rate=1e-2")
    run.add_argument("--out", help="run directory (default runs/<name>-<timestamp>)")
    run.add_argument("-q", "--quiet", action="store_true", help="no progress display")

    check = verbs.add_parser("check", help="validate a recipe and print it resolved, without training")
    check.add_argument("recipe")
    check.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE")

    names = verbs.add_parser("list", help="list the named components (losses, optimizers, ...)")
    names.add_argument("kind", nargs="?", choices=sorted(_registries()), help="which kind (default: all)")
    return parser


def _registries() -> dict[str, str]:
    return {
        "losses": "trainlab.losses", "optimizers": "trainlab.optimizers", "schedules": "trainlab.schedules",
        "regularizers": "trainlab.regularizers", "models": "trainlab.models", "callbacks": "trainlab.callbacks",
        "data": "trainlab.data:sources",
    }


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``trainlab`` console script; returns the exit status."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        args = _parser().parse_args(argv)
        if args.version:
            return _version()
        if args.verb is None:
            _parser().print_help()
            return EXIT_USAGE
        return {"run": _run, "check": _check, "list": _list}[args.verb](args)
    except TrainlabError as exc:
        print(f"trainlab: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("trainlab: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    from trainlab.report.terminal import print_run_summary
    from trainlab.training.trainer import train

    overrides = list(args.overrides) + (["training.verbose=0"] if args.quiet else [])
    run = train(args.recipe, out=args.out, overrides=overrides)
    print_run_summary(run.summary, run.dir)
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
        module, _, attr = target.partition(":")
        registry = getattr(importlib.import_module(module), attr or "registry")
        print(f"{kind}: {', '.join(registry.names())}")
    return 0


def _version() -> int:
    import keras
    import tensorflow as tf

    import trainlab

    print(f"trainlab {trainlab.__version__} (TensorFlow {tf.__version__}, Keras {keras.__version__})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
