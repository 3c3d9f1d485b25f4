"""``glonet sim`` as a subprocess: a demo plant file starts, serves and stops without leftovers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from glonet.broker import free_port, wait_for_port
from glonet.cli import main
from glonet.demo import NETWORK_DIR
from tests.firmware_sim.conftest import connect, machine_handle
from tests.waiting import eventually

ROOT = Path(__file__).resolve().parents[2]
PLANT = NETWORK_DIR / "imola-welding.yaml"


def glonet_sim(*args: str, log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "glonet", "sim", *args],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def port_is_free(port: int) -> bool:
    """Nobody listens and a new server could bind (connections closed by the server may
    linger in TIME_WAIT, which SO_REUSEADDR servers - asyncio's included - ignore)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
            sock.listen()
        except OSError:
            return False
    return True


async def check_running_plant(port: int) -> None:
    client = await connect(f"opc.tcp://127.0.0.1:{port}/glonet/imola-welding")
    weld1 = await machine_handle(client, "weld-1")
    weld2 = await machine_handle(client, "weld-2")
    assert await weld1.state() == "NotExecuting"

    async def broken() -> bool:
        return await weld2.state() == "OutOfService"

    await eventually(broken, what="weld-2 broken down by --fault")
    await client.disconnect()


@pytest.mark.integration
async def test_demo_plant_runs_and_stops_cleanly_on_sigterm_and_ctrl_c(tmp_path: Path) -> None:
    """Two instances side by side (starting one takes seconds): one gets SIGTERM, one SIGINT."""
    runs = {}
    for signum in (signal.SIGTERM, signal.SIGINT):
        port, log = free_port(), tmp_path / f"sim-{signum}.log"
        args = ["--port", str(port), "--time-scale", "600", "--update-interval", "0.1"]
        process = glonet_sim(str(PLANT), *args, "--fault", "breakdown:0:0:weld-2", log=log)
        runs[signum] = (process, port, log)
    try:
        for _, port, log in runs.values():
            assert wait_for_port("127.0.0.1", port, 30), log.read_text()
            await check_running_plant(port)
    finally:
        for signum, (process, _, _) in runs.items():
            process.send_signal(signum)
    for process, port, log in runs.values():
        returncode = process.wait(timeout=20)
        output = log.read_text()
        assert returncode == 0, output
        assert f"opc.tcp://127.0.0.1:{port}/glonet/imola-welding" in output
        assert "Traceback" not in output
        with pytest.raises(ProcessLookupError):
            os.killpg(process.pid, 0)  # nothing of the process group is left
        assert port_is_free(port)


def test_bad_plant_file_is_a_clear_error_not_a_traceback(tmp_path: Path) -> None:
    plant = tmp_path / "plant.yaml"
    plant.write_text("unit: x\nname: X\nlocation: {lat: 1, lon: 2}\nport: 1\nmachines: []")
    result = subprocess.run(
        [sys.executable, "-m", "glonet", "sim", str(plant)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"{plant}: machines: List should have at least 1 item" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "unit: x\nname: X\nlocation: {lat: 1, lon: 2}\nport: 1\n"
            "machines: [{id: m, type: rocket}]",
            "machines.0.type",
        ),
        ("unit: x\nname: X\nlocation: {lat: 1, lon: 2}\nport: 1\nmachines: []", "machines"),
        ("unit: [unclosed", "not valid YAML"),
        ("- just\n- a list", "expected a mapping"),
    ],
)
def test_bad_plant_files(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, content: str, expected: str
) -> None:
    plant = tmp_path / "plant.yaml"
    plant.write_text(content)
    assert main(["sim", str(plant)]) == 2
    assert expected in caplog.text and str(plant) in caplog.text


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["missing.yaml"], "cannot read"),
        ([str(PLANT), "--fault", "meteor:1"], "unknown fault kind"),
        ([str(PLANT), "--fault", "crash:soon"], "bad AFTER_S"),
        ([str(PLANT), "--fault", "freeze:1:1:no-such-machine"], "no machine"),
        ([str(PLANT), "--time-scale", "0"], "must be positive"),
        ([str(PLANT), str(PLANT), "--port", "4999"], "single plant"),
    ],
)
def test_bad_arguments(caplog: pytest.LogCaptureFixture, args: list[str], expected: str) -> None:
    assert main(["sim", *args]) == 2
    assert expected in caplog.text


def test_busy_port_is_a_clear_error(caplog: pytest.LogCaptureFixture) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["sim", str(PLANT), "--port", str(port)]) == 2
    assert f"cannot listen on opc.tcp://127.0.0.1:{port}/glonet/imola-welding" in caplog.text
