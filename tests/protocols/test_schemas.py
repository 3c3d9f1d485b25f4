import json
from pathlib import Path

import pytest

from protocols import schemas
from protocols.messages import MESSAGE_TYPES

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "docs" / "schemas"


def test_checked_in_schemas_match_the_models():
    generated = schemas.generate()
    on_disk = {path.name: path.read_text() for path in SCHEMA_DIR.glob("*.json")}
    stale = sorted(
        name
        for name in generated.keys() | on_disk.keys()
        if generated.get(name) != on_disk.get(name)
    )
    assert not stale, (
        f"docs/schemas is out of date for {stale}: run `python -m protocols.schemas docs/schemas`"
    )


@pytest.mark.parametrize("name", sorted(MESSAGE_TYPES))
def test_schema_requires_the_envelope_fields(name):
    schema = json.loads((SCHEMA_DIR / f"{name}.json").read_text())
    assert {"schema", "version", "id", "unit", "seq", "sent_at", "body"} <= set(schema["required"])
