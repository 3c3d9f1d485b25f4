"""The ``glonet`` command.

Each subcommand lives in its own module under :mod:`glonet.commands` and exposes
``register(subparsers)``; the module registers a parser whose ``handler`` takes the parsed
arguments and returns the exit code. Adding a subcommand is adding a module.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import pkgutil
from collections.abc import Sequence

from glonet import __version__, commands


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glonet",
        description="GloNet: networks of small manufacturing plants acting as one.",
    )
    parser.add_argument("--version", action="version", version=f"glonet {__version__}")
    parser.add_argument(
        "--log-level", default="INFO", help="DEBUG, INFO, WARNING or ERROR (default: INFO)"
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{commands.__name__}.{module_info.name}")
        module.register(subparsers)
    return parser


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    configure_logging(args.log_level)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        return 130
