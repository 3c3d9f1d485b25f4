"""Generate the JSON Schemas of every message into ``docs/schemas/``.

Run ``python -m protocols.schemas docs/schemas``; a test fails when the checked-in files differ.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from protocols.messages import MESSAGE_TYPES, PROTOCOL_VERSION


def generate() -> dict[str, str]:
    """File name → JSON text for every message type."""
    files = {}
    for name, message_type in sorted(MESSAGE_TYPES.items()):
        schema: dict[str, Any] = message_type.model_json_schema(by_alias=True)
        schema["$id"] = f"https://glonet.example/schemas/v{PROTOCOL_VERSION}/{name}.json"
        schema["x-protocol-version"] = PROTOCOL_VERSION
        files[f"{name}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return files


def write(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for file_name, text in generate().items():
        path = directory / file_name
        path.write_text(text)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    target = Path(args[0]) if args else Path("docs/schemas")
    for path in write(target):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
