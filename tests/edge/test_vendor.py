"""Vendor values to OPC 40001-1 names: the three forms of a mapping's state and mode."""

from asyncua import ua

from edge.config import DerivedValue, ValueMap
from edge.vendor import Unmapped, VendorTranslation
from protocols.enums import MachineryItemState as State
from protocols.enums import MachineryOperationMode as Mode


def _state(source):
    return VendorTranslation(source, State, State.NOT_AVAILABLE)


def test_a_standard_name_is_taken_as_it_is_and_anything_else_is_unmapped():
    state = _state("acme:State")
    assert state.update(None, ua.LocalizedText("Executing")) is State.EXECUTING
    assert state.update(None, "RUNNING") == Unmapped("'RUNNING'")
    assert state.update(None, None) is State.NOT_AVAILABLE  # Bad, no value: unknown


def test_a_value_map_translates_strings_integers_and_booleans():
    source = ValueMap[State].model_validate(
        {
            "path": "acme:State",
            "map": {"RUNNING": "Executing", "IDLE": "NotExecuting", 7: "OutOfService"},
        }
    )
    state = _state(source)
    assert state.update(None, "RUNNING") is State.EXECUTING
    assert state.update(None, ua.LocalizedText("IDLE")) is State.NOT_EXECUTING
    assert state.update(None, 7) is State.OUT_OF_SERVICE
    assert state.update(None, "WARMUP") == Unmapped("'WARMUP'")
    assert state.update(None, 8) == Unmapped("8")
    flag = VendorTranslation(
        ValueMap[Mode].model_validate(
            {"path": "acme:Setup", "map": {True: "Setup", False: "Processing"}}
        ),
        Mode,
        Mode.NONE,
    )
    assert flag.update(None, True) is Mode.SETUP and flag.update(None, False) is Mode.PROCESSING


def test_a_derived_state_waits_for_its_variables_then_takes_the_first_matching_rule():
    source = DerivedValue[State].model_validate(
        {
            "variables": {"running": "acme:Running", "fault": "acme:Fault"},
            "rules": [
                {"when": {"fault": True}, "value": "OutOfService"},
                {"when": {"running": True}, "value": "Executing"},
                {"when": {"running": False}, "value": "NotExecuting"},
            ],
        }
    )
    state = _state(source)
    assert state.update("running", True) is None  # the fault flag has not come yet
    assert state.update("fault", False) is State.EXECUTING
    assert state.update("fault", True) is State.OUT_OF_SERVICE
    assert state.update("fault", False) is State.EXECUTING
    assert state.update("running", 1) == Unmapped("running=1, fault=False")  # 1 is not a flag
    assert state.update("running", None) is State.NOT_AVAILABLE
    state.reset()
    assert state.update("fault", False) is None


def test_otherwise_covers_every_other_combination():
    source = DerivedValue[State].model_validate(
        {
            "variables": {"running": "acme:Running"},
            "rules": [{"when": {"running": True}, "value": "Executing"}],
            "otherwise": "NotExecuting",
        }
    )
    assert _state(source).update("running", "half") is State.NOT_EXECUTING
