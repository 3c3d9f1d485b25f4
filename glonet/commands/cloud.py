"""``glonet cloud``: run the coordinator, an extra ingest worker, keys and broker files."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_LOGGER = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("cloud", help="the network coordinator")
    parser.set_defaults(handler=lambda _args: _usage(parser))
    commands = parser.add_subparsers(dest="cloud_command", metavar="COMMAND")

    serve = commands.add_parser("serve", help="web API, pages and ingest in one process")
    _config_option(serve)
    serve.add_argument("--json-logs", action="store_true", help="log JSON lines")
    serve.set_defaults(handler=serve_command)

    ingest = commands.add_parser(
        "ingest", help="an ingest worker only (set mqtt.share_group to share the load)"
    )
    _config_option(ingest)
    ingest.add_argument("--json-logs", action="store_true", help="log JSON lines")
    ingest.add_argument(
        "--services",
        action="store_true",
        help="also run the dispatcher and the maintenance worker (as 'serve' does with its"
        " ingest): give it to one ingest process beside an API-only 'serve'",
    )
    ingest.add_argument(
        "--metrics-port",
        type=int,
        metavar="PORT",
        help="serve this worker's /metrics and /healthz on listen_host:PORT",
    )
    ingest.set_defaults(handler=ingest_command)

    key = commands.add_parser("create-key", help="create a principal and print its API key")
    _config_option(key)
    key.add_argument("--name", default="network coordinator")
    key.add_argument(
        "--role", default="coordinator", choices=["coordinator", "plant", "technician", "customer"]
    )
    key.add_argument("--unit", dest="unit_id", help="the plant's unit id")
    key.add_argument("--technician", dest="technician_id", help="the technician's id")
    key.add_argument("--customer", dest="customer_id", help="the customer's id")
    key.set_defaults(handler=create_key_command)

    broker = commands.add_parser(
        "broker-config",
        help="write the Mosquitto listeners, password and ACL files from the registry",
    )
    _config_option(broker)
    broker.add_argument("out_dir", type=Path)
    broker.add_argument(
        "--members-port",
        type=int,
        default=1883,
        help="the gateways' and devices' listener (the coordinator's is mqtt.host/mqtt.port)",
    )
    broker.add_argument("--members-bind", help="the address the members' listener binds")
    broker.set_defaults(handler=broker_config_command)


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _config_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="YAML or TOML settings file")


def _settings(args: argparse.Namespace) -> Any:
    from cloud.config import load_settings

    return load_settings(args.config)


def _json_logs(args: argparse.Namespace) -> None:
    if args.json_logs:
        from cloud.operations.logs import use_json_logs

        use_json_logs()


def serve_command(args: argparse.Namespace) -> int:
    _json_logs(args)  # before the imports below, which already log
    import uvicorn

    from cloud.main import create_app, server_options

    settings = _settings(args)
    app = create_app(settings)
    uvicorn.run(
        app,
        host=settings.listen_host,
        port=settings.listen_port,
        log_config=None,
        **server_options(settings),
    )
    return 0


def ingest_command(args: argparse.Namespace) -> int:
    _json_logs(args)
    from cloud.main import build_context
    from cloud.operations.memory import settle_after_startup
    from cloud.services import Wanted, services

    context = build_context(_settings(args))
    settings = context.settings
    listening = None
    if args.metrics_port is not None:
        try:  # before anything starts: a port in use is a clear error, not a half-started worker
            listening = socket.create_server((settings.listen_host, args.metrics_port))
        except OSError as exc:
            _LOGGER.error(
                "cannot serve metrics on %s:%s: %s", settings.listen_host, args.metrics_port, exc
            )
            return 2

    async def run() -> None:
        wanted = Wanted(ingest=True, domains=args.services, ingest_only=True)
        async with services(context, wanted):
            operations = None
            if listening is not None:
                operations = _operations_server(context)
                serving = asyncio.create_task(operations.serve([listening]), name="operations")
            settle_after_startup()
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, stop.set)
            with contextlib.suppress(asyncio.CancelledError):
                await stop.wait()
            if operations is not None:
                operations.should_exit = True
                await serving

    asyncio.run(run())
    context.sink.close()
    return 0


def _operations_server(context: Any) -> Any:
    """An HTTP server of /metrics and /healthz alone, for a process that serves no API."""
    import uvicorn

    from cloud.main import operations_app

    class Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield  # the ingest command stops everything in order on SIGTERM / SIGINT

    config = uvicorn.Config(operations_app(context), lifespan="off", log_config=None)
    return Server(config)


def create_key_command(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from cloud.auth.models import PrincipalCreate
    from cloud.bootstrap import create_key
    from cloud.exceptions import CloudError

    try:
        spec = PrincipalCreate(
            name=args.name,
            role=args.role,
            unit_id=args.unit_id,
            technician_id=args.technician_id,
            customer_id=args.customer_id,
        )
        principal_id, api_key = create_key(_settings(args), spec)
    except ValidationError as exc:
        print(f"error: {exc.errors()[0]['msg']}")
        return 2
    except CloudError as exc:
        print(f"error: {exc.message}")
        return 1
    print(f"principal {principal_id} ({spec.role.value}): {api_key}")
    print("Keep the key now: only its hash is stored.")
    return 0


def broker_config_command(args: argparse.Namespace) -> int:
    from cloud.bootstrap import Listener, write_broker_files
    from cloud.exceptions import CloudError

    try:
        members = Listener(args.members_port, args.members_bind)
        files = write_broker_files(_settings(args), args.out_dir, members=members)
    except CloudError as exc:
        print(f"error: {exc.message}")
        return 1
    print(f"wrote {files.conf}, {files.passwd}, {files.coordinator_passwd} and {files.acl}")
    print(f"in mosquitto.conf, instead of its own listeners:\n  include_dir {files.conf.parent}")
    return 0
