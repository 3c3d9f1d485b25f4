"""``glonet demo``: the demo network on this machine, until Ctrl-C.

A private Mosquitto, the simulated plants, one gateway per plant and the coordinator (SQLite,
embedded telemetry) on http://127.0.0.1:8000; one person per role (username and password) and
the demo keys printed; a few co-designed orders run
at an accelerated time scale while one machine breaks down, the plan adapts, and a demo technician
resolves its maintenance ticket so that the machine's gateway repairs it. A public customer's
opportunity is formed into a consortium (invitations, scripted answers, selection with local
suppliers, terms accepted), quoted, confirmed, made and delivered, and its ledger printed.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import signal
import socket
import time
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from glonet.demo import DEMO_SPEC

if TYPE_CHECKING:
    from cloud.auth.models import PersonCreate
    from glonet.demo_driver import DemoDriver

# Every ``glonet`` process builds the whole parser, so this module imports nothing heavy at its
# top: glonet.demo_network brings the coordinator's models and the simulator, which a gateway
# (``glonet edge``) would otherwise carry in memory (40 MB).
_LOGGER = logging.getLogger(__name__)
DEFAULT_WORKDIR = Path("var/demo")
POLL_INTERVAL = 1.0
# Where each role starts, first page first.
START_PAGES = (
    ("coordinator", ("/", "/orders", "/plan", "/maintenance", "/maintenance/figures", "/ledger")),
    ("customer", ("/", "/configurator", "/orders")),
    ("plant", ("/", "/maintenance")),
    ("technician", ("/maintenance/inbox",)),
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo", help="run the demo network (broker, plants, gateways, coordinator) until Ctrl-C"
    )
    parser.add_argument("--spec", type=Path, default=DEMO_SPEC, help="demo description")
    parser.add_argument("--port", type=int, default=8000, help="the coordinator's HTTP port")
    parser.add_argument("--workdir", type=Path, default=DEFAULT_WORKDIR, help="wiped at start")
    parser.add_argument("--time-scale", type=float, help="override the spec's time scale")
    parser.add_argument(
        "--exit-when-delivered", action="store_true", help="stop once every order is delivered"
    )
    parser.add_argument(
        "--prepare",
        type=Path,
        metavar="DIR",
        help="only prepare a deployment (registry, broker credentials and ACL, gateway and "
        "coordinator settings, keys) in DIR, as docker-compose.yml's setup service does",
    )
    parser.set_defaults(handler=run)


def _interrupt(_signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def run(args: argparse.Namespace) -> int:
    from glonet.demo_driver import DemoDriver
    from glonet.demo_network import (
        Coordinator,
        DemoError,
        PlantNetwork,
        coordinator_settings,
        load_spec,
        network_setup,
        prepare_network,
    )

    signal.signal(signal.SIGTERM, _interrupt)
    started = time.monotonic()
    for noisy in ("httpx", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    logging.getLogger("asyncua").setLevel(logging.ERROR)
    spec = load_spec(args.spec)
    if args.time_scale:
        spec.time_scale = args.time_scale
    if args.prepare:
        return _prepare(spec, args.prepare.resolve())
    try:
        _check_port_free(args.port)
    except DemoError as exc:
        _LOGGER.error("%s", exc)
        return 1
    workdir = args.workdir.resolve()
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    plants = PlantNetwork(workdir, spec.plants, spec.network, spec.time_scale)
    settings = coordinator_settings(
        spec,
        workdir=workdir,
        mqtt_host=plants.broker.host,
        mqtt_port=plants.broker.port,
        port=args.port,
    )
    coordinator = Coordinator(workdir, settings)
    driver: DemoDriver | None = None
    try:
        print(f"starting {len(spec.plants)} simulated plants and their gateways…")
        plants.start(clock_origin=settings["orders"]["plant_clock_origin"])
        setup = network_setup(spec, plants.plants, people=True)
        credentials = prepare_network(settings, setup)
        keys = credentials.api_keys
        coordinator.start()
        _banner(
            coordinator.url, keys, setup.people, credentials.passwords, workdir, spec.time_scale
        )
        driver = DemoDriver(spec, coordinator.url, keys, plants, started=started)
        driver.wait_for_machines()
        for order in spec.orders:
            driver.submit(order)
        if spec.opportunity is not None:
            driver.form_and_quote(spec.opportunity)
        while True:
            if driver.follow() and args.exit_when_delivered:
                break
            if plants.dead() or not coordinator.process.running:
                raise DemoError(f"a process stopped: {plants.dead()}; see {workdir / 'logs'}")
            time.sleep(POLL_INTERVAL)
    except KeyboardInterrupt:
        print("\nstopping…")
    except DemoError as exc:
        _LOGGER.error("%s", exc)
        return 1
    finally:
        if driver is not None:
            _print_tickets(driver)
        coordinator.stop()
        plants.stop()
    print("stopped cleanly")
    return 0


def _check_port_free(port: int, host: str = "127.0.0.1") -> None:
    """Refuse to start when something already listens on the coordinator's port: the demo would
    otherwise talk to that program instead of its own coordinator."""
    from glonet.demo_network import DemoError

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise DemoError(
                f"port {port} on {host} is taken ({exc.strerror}): stop what listens there, or "
                f"choose another port with `make demo PORT={port + 1}` "
                f"(`glonet demo --port {port + 1}`)"
            ) from None


def _print_tickets(driver: DemoDriver) -> None:
    import httpx

    from glonet.demo_network import DemoError

    try:
        print(driver.ticket_summary())
    except (DemoError, httpx.HTTPError) as exc:
        _LOGGER.warning("could not count the maintenance tickets: %s", exc)


def _banner(
    url: str,
    keys: dict[str, str],
    people: list[PersonCreate],
    passwords: dict[str, str],
    workdir: Path,
    time_scale: float,
) -> None:
    print(f"\nGloNet demo network: {url}  (time scale {time_scale:g}x, Ctrl-C stops)")
    print("  start pages by role (sign in with the role's username and password below):")
    for role, pages in START_PAGES:
        print(f"    {role:<12} " + "  ".join(f"{url}{page}" for page in pages))
    print("  people (username / password, made for this run):")
    for person in people:
        print(f"    {person.role:<12} {person.username:<12} {passwords[person.username]}")
    print("  API keys (scripts; the sign-in page also takes one, under 'Or with an API key'):")
    for name, key in keys.items():
        print(f"    {name:<32} {key}")
    print(f"  logs: {workdir / 'logs'}\n")


def _prepare(spec: Any, out_dir: Path) -> int:
    from glonet.demo_network import coordinator_settings
    from glonet.deployment import prepare

    settings = coordinator_settings(
        spec, workdir=out_dir, mqtt_host="mosquitto", mqtt_port=1884, port=8080
    )
    keys = prepare(spec, settings, out_dir, broker_url="mqtt://mosquitto:1883")
    print(f"prepared {out_dir}; API keys in {out_dir / 'keys.txt'} ({len(keys)} keys)")
    return 0
