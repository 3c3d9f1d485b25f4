"""``glonet demo``: run the demo network on this machine."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the demo network (broker, plants, coordinator)"
    )
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    print(
        "The demo network is not assembled yet. Available now:\n"
        "  glonet --help          list the subcommands\n"
        "  make test              run the whole test suite\n"
        "  python -m protocols.schemas docs/schemas   regenerate the message JSON Schemas"
    )
    return 0
