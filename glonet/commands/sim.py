"""``glonet sim PLANT.yaml …``: run simulated plants (OPC UA servers) until Ctrl-C."""

from __future__ import annotations

import argparse
import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from firmware_sim.errors import SimError
from firmware_sim.faults import FaultKind, parse_fault_spec
from firmware_sim.plant import SecurityMode, load_plant
from firmware_sim.runner import run as run_plants
from firmware_sim.server import DEFAULT_CERT_DIR, ServerOptions

_LOGGER = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sim",
        help="run simulated machines / field products as OPC UA servers",
        description="Start one OPC UA server per plant file (all machines of the plant in it).",
    )
    parser.add_argument("plants", nargs="+", type=Path, metavar="PLANT.yaml")
    parser.add_argument("--time-scale", type=float, default=1.0, help="simulated s per real s")
    parser.add_argument(
        "--clock-origin",
        type=_aware_time,
        help="ISO time where the simulated clock meets the wall clock (the coordinator's "
        "orders.plant_clock_origin); default: the clock starts at the wall clock",
    )
    parser.add_argument("--seed", type=int, default=0, help="random seed (wear, noise, durations)")
    parser.add_argument("--port", type=int, help="override the plant file's port (one plant)")
    parser.add_argument("--update-interval", type=float, help="seconds between value updates")
    parser.add_argument(
        "--security", choices=[m.value for m in SecurityMode], help="override the plant's security"
    )
    parser.add_argument("--cert-dir", type=Path, default=DEFAULT_CERT_DIR)
    parser.add_argument(
        "--trust", type=Path, action="append", default=[], help="trusted client certificate"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="KIND[:AFTER_S[:DURATION_S[:MACHINE]]]",
        help=f"inject a fault; kinds: {', '.join(k.value for k in FaultKind)}",
    )
    parser.set_defaults(handler=run)


def _aware_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO time: {text!r}") from None
    if moment.tzinfo is None:
        raise argparse.ArgumentTypeError(f"give a time zone (Z or +01:00): {text!r}")
    return moment


def run(args: argparse.Namespace) -> int:
    # asyncua logs every session and subscription at INFO; keep the plant's own log readable.
    logging.getLogger("asyncua").setLevel(max(logging.WARNING, logging.getLogger().level))
    try:
        if args.time_scale <= 0:
            raise SimError("--time-scale must be positive")
        plants = [load_plant(path) for path in args.plants]
        faults = [parse_fault_spec(text) for text in args.fault]
        options = ServerOptions(
            time_scale=args.time_scale,
            clock_origin=args.clock_origin,
            seed=args.seed,
            port=args.port,
            update_interval_s=args.update_interval,
            security=SecurityMode(args.security) if args.security else None,
            cert_dir=args.cert_dir,
            trusted_certs=tuple(args.trust),
        )
        return run_plants(plants, options, faults)
    except SimError as exc:
        _LOGGER.error("%s", exc)
        return 2
