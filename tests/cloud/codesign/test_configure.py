import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from cloud.codesign.configure import (
    InvalidConfiguration,
    allowed_values,
    validate,
    work_breakdown,
)
from cloud.codesign.families import (
    BooleanOption,
    ChoiceOption,
    NumberOption,
    ProductFamily,
    load_families,
)
from cloud.config import DEFAULT_FAMILIES_DIR

FAMILIES = load_families(DEFAULT_FAMILIES_DIR)
CELL = FAMILIES["robotic-cell"]


def test_defaults_are_valid_and_give_work():
    for family in FAMILIES.values():
        assert validate(family, {}).valid, family.id
        work = work_breakdown(family, {})
        assert work.price > 0
        assert work.operations and all(op.duration_min > 0 for op in work.operations)


def test_rule_violation_is_explained_in_words():
    result = validate(CELL, {"payload_kg": 30, "base": "standard"})
    assert not result.valid
    assert [p.rule for p in result.problems] == ["heavy-payload-reinforced-base"]
    assert "reinforced base" in result.problems[0].message


@pytest.mark.parametrize(
    ("values", "option", "words"),
    [
        ({"payload_kg": 99}, "payload_kg", "outside 3 to 50 kg"),
        ({"payload_kg": 10.5}, "payload_kg", "plus a multiple of 1 kg"),
        ({"payload_kg": "heavy"}, "payload_kg", "not a number"),
        ({"base": "floating"}, "base", "not one of standard, reinforced, mobile"),
        ({"vision": "yes"}, "vision", "not yes/no"),
        ({"label_text": "x" * 41}, "label_text", "longer than 40"),
        ({"wheels": 4}, "wheels", "not an option"),
    ],
)
def test_bad_values_are_explained_per_option(values, option, words):
    result = validate(CELL, values)
    assert not result.valid
    assert any(p.option == option and words in p.message for p in result.problems)


def test_allowed_values_grey_out_what_rules_forbid():
    allowed = allowed_values(CELL, {"payload_kg": 30})
    assert allowed["base"].values == ["reinforced"]
    assert allowed["reach_mm"].ranges == [(600.0, 1700.0)]
    assert allowed["safety"].values == ["fence", "light_curtain"]
    assert allowed["label_text"].max_length == 40


def test_invalid_configuration_gives_no_work():
    with pytest.raises(InvalidConfiguration) as excinfo:
        work_breakdown(CELL, {"payload_kg": 30})
    assert excinfo.value.problems


def test_excluded_steps_pass_their_precedence_on():
    work = work_breakdown(CELL, {"colour": "unpainted"})
    by_id = {op.id: op for op in work.operations}
    assert "paint" not in by_id
    # The painted parts came from welding and bending; assembly now waits for those directly.
    assert {"weld-base", "bend-fence-panels"} <= set(by_id["assemble"].predecessors)


def _configurations(family: ProductFamily):
    fields = {}
    for option in family.options:
        if isinstance(option, ChoiceOption):
            fields[option.id] = st.sampled_from(option.choices)
        elif isinstance(option, BooleanOption):
            fields[option.id] = st.booleans()
        elif isinstance(option, NumberOption):
            count = int((option.max - option.min) / option.step)
            fields[option.id] = st.integers(0, count).map(
                lambda i, o=option: round(o.min + i * o.step, 9)
            )
        else:
            fields[option.id] = st.text(max_size=option.max_length)
    return st.fixed_dictionaries(fields)


@settings(max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), family_id=st.sampled_from(sorted(FAMILIES)))
def test_generated_configurations_are_valid_or_explained(data, family_id):
    family = FAMILIES[family_id]
    values = data.draw(_configurations(family))
    result = validate(family, values)
    if not result.valid:
        assert all(problem.message.strip() for problem in result.problems)
        with pytest.raises(InvalidConfiguration):
            work_breakdown(family, values)
        return
    work = work_breakdown(family, values)
    ids = [op.id for op in work.operations]
    position = {op_id: index for index, op_id in enumerate(ids)}
    for op in work.operations:
        assert op.duration_min > 0
        assert all(position[before] < position[op.id] for before in op.predecessors)
    assert work.price > 0


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), family_id=st.sampled_from(sorted(FAMILIES)))
def test_choosing_an_allowed_value_breaks_no_rule_that_option_could_fix(data, family_id):
    family = FAMILIES[family_id]
    values = data.draw(_configurations(family))
    allowed = allowed_values(family, values)
    option = data.draw(
        st.sampled_from([o for o in family.options if allowed[o.id].values is not None])
    )
    assume(allowed[option.id].values)
    choice = data.draw(st.sampled_from(allowed[option.id].values))

    def broken(value):
        result = validate(family, {**values, option.id: value})
        return {p.rule for p in result.problems if p.rule}

    # A rule still broken after picking an allowed value is one no value of this option fixes.
    candidates = option.choices if isinstance(option, ChoiceOption) else [False, True]
    unfixable = set.intersection(*(broken(value) for value in candidates))
    assert broken(choice) <= unfixable


def test_setups_and_machine_times_come_from_the_family_data():
    work = work_breakdown(CELL, {"colour": "ral5015", "base": "reinforced"})
    steps = {op.id: op for op in work.operations}
    paint, cut = steps["paint"], steps["cut-base-plates"]
    assert (paint.setup_family, paint.setup_min) == ("ral5015", {"*": 30.0, "ral2004": 45.0})
    assert (cut.setup_family, cut.setup_min) == ("steel", {"*": 15.0})
    assert cut.duration_min_on == {"reggio-sheet-metal/laser-1": 43.0}
    assert steps["weld-base"].setup_family is None and not steps["weld-base"].duration_min_on
