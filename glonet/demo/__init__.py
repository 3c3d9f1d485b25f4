"""What ``glonet demo`` runs, shipped as package data: ``demo.yaml`` and the demo network's plant
files in ``network/`` (packages, so that their *.yaml files install with the wheel)."""

from pathlib import Path

DEMO_SPEC = Path(__file__).resolve().parent / "demo.yaml"
NETWORK_DIR = DEMO_SPEC.parent / "network"
