"""``glonet edge CONFIG.yaml``: run a plant's edge gateway; ``glonet edge browse`` and
``glonet edge check``: the plant engineer's tools to map a new machine (docs/gateway.md)."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from typing import Any

import yaml

from edge.browse import (
    DEFAULT_DEPTH,
    browse_server,
    machine_candidate,
    namespace_prefixes,
    render_tree,
    starting_mapping,
)
from edge.check import check_config, render
from edge.config import SecurityConfig, load_config
from edge.errors import GatewayError, MachineError
from edge.gateway import Gateway
from edge.nodes import NETWORK_ERRORS, NodeResolver
from edge.session import open_client

_LOGGER = logging.getLogger(__name__)
TOOLS = ("browse", "check")


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "edge",
        help="run an edge gateway (OPC UA machines → MQTT, dispatches back); "
        "`edge browse URL` and `edge check CONFIG` map a new machine",
        usage="glonet edge CONFIG.yaml | glonet edge browse URL [...] | glonet edge check CONFIG",
    )
    parser.add_argument("config", help="the gateway's YAML configuration (see docs/gateway.md)")
    parser.add_argument("tool_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # asyncua logs every publish response at INFO: far too much for a daemon.
        logging.getLogger("asyncua").setLevel(logging.WARNING)
    if args.config in TOOLS:
        return _tool(args.config, args.tool_args)
    if args.tool_args:
        print(f"glonet edge: unexpected arguments {args.tool_args}", file=sys.stderr)
        return 2
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


# The plant engineer's tools ---------------------------------------------------------------


def _tool(name: str, argv: list[str]) -> int:
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    logging.getLogger("edge.binding").setLevel(logging.ERROR)  # check reports what is missing
    parser = _browse_parser() if name == "browse" else _check_parser()
    args = parser.parse_args(argv)
    try:
        return asyncio.run(_browse(args) if name == "browse" else _check(args))
    except (GatewayError, ValueError) as exc:
        print(f"glonet edge {name}: {exc}", file=sys.stderr)
        return 2


def _browse_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glonet edge browse",
        description="Walk an OPC UA server: objects, variables (type, unit), methods and event "
        "sources, then a starting mapping YAML for one machine.",
    )
    parser.add_argument("endpoint", help="opc.tcp://HOST:PORT/...")
    parser.add_argument("--from", dest="start", default="/0:Objects", help="browse path to start")
    parser.add_argument("--depth", type=int, default=DEFAULT_DEPTH, help="levels to walk")
    parser.add_argument("--root", help="the machine's node for the mapping (default: a guess)")
    parser.add_argument("--mapping-out", help="also write the starting mapping to this file")
    parser.add_argument("--policy", default="None", choices=["None", "Basic256Sha256"])
    parser.add_argument("--mode", default="None", choices=["None", "Sign", "SignAndEncrypt"])
    parser.add_argument("--certificate", help="client certificate (PEM or DER)")
    parser.add_argument("--private-key", help="client private key (PEM)")
    parser.add_argument("--server-certificate", help="the server's certificate, to trust it")
    parser.add_argument("--username")
    parser.add_argument("--password")
    return parser


def _check_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="glonet edge check",
        description="Connect to every configured server and report each mapped node (type, "
        "value, quality) or why it is missing; publishes nothing.",
    )
    parser.add_argument("config", help="the gateway's YAML configuration")
    return parser


async def _browse(args: argparse.Namespace) -> int:
    try:
        security = SecurityConfig(
            policy=args.policy,
            mode=args.mode,
            certificate=args.certificate,
            private_key=args.private_key,
            server_certificate=args.server_certificate,
            username=args.username,
            password=args.password,
        )
    except ValueError as exc:
        raise ValueError(f"security options: {exc}") from None
    client = await open_client(args.endpoint, security)
    try:
        await client.connect()
    except (*NETWORK_ERRORS, ValueError) as exc:
        raise MachineError(f"cannot connect to {args.endpoint}: {exc}") from exc
    try:
        namespaces = await client.get_namespace_array()
        prefixes = {p: namespaces[i] for i, p in namespace_prefixes(namespaces).items()}
        start = await NodeResolver(client, namespaces, prefixes).resolve(args.start, None)
        server = await browse_server(client, start, args.start, args.depth)
    finally:
        await client.disconnect()
    print(render_tree(server))
    root = args.root or machine_candidate(server)
    if root is None:
        print("# no numeric variables found: no starting mapping")
        return 0
    mapping = yaml.safe_dump(starting_mapping(server, root), sort_keys=False, allow_unicode=True)
    print(f"\n# A starting mapping for {root} (edit it, then `glonet edge check`):")
    print(mapping)
    if args.mapping_out:
        with open(args.mapping_out, "w", encoding="utf-8") as out:
            out.write(mapping)
    return 0


async def _check(args: argparse.Namespace) -> int:
    config = load_config(args.config)
    reports = await check_config(config)
    print(render(reports))
    return 0 if all(report.ok for report in reports) else 1
