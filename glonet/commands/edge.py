"""``glonet edge CONFIG.yaml``: run a plant's edge gateway."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

from edge.config import load_config
from edge.errors import GatewayError
from edge.gateway import Gateway

_LOGGER = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "edge", help="run an edge gateway (OPC UA machines → MQTT, dispatches back)"
    )
    parser.add_argument("config", help="the gateway's YAML configuration (see docs/gateway.md)")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # asyncua logs every publish response at INFO: far too much for a daemon.
        logging.getLogger("asyncua").setLevel(logging.WARNING)
    try:
        config = load_config(args.config)
        return asyncio.run(_serve(Gateway(config)))
    except GatewayError as exc:
        print(f"glonet edge: {exc}", file=sys.stderr)
        return 2


async def _serve(gateway: Gateway) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await gateway.run(stop)
    return 0
