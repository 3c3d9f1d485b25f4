import pytest

from cloud.codesign.expressions import ExpressionError, parse


@pytest.mark.parametrize(
    ("source", "values", "expected"),
    [
        (
            "payload_kg > 20 and base == 'reinforced'",
            {"payload_kg": 25, "base": "reinforced"},
            True,
        ),
        ("60 + 2.5 * payload_kg", {"payload_kg": 4}, 70.0),
        ("1200 if finish == 'powder' else 0", {"finish": "galvanised"}, 0),
        ("ceil(x / 3) + max(1, y)", {"x": 7, "y": -2}, 4),
        ("colour in ('red', 'blue')", {"colour": "red"}, True),
        ("not vision", {"vision": False}, True),
        ("1 < x <= 3", {"x": 3}, True),
        (12, {}, 12),
    ],
)
def test_expressions_evaluate(source, values, expected):
    assert parse(source).evaluate(values) == expected


def test_names_are_collected_without_function_names():
    assert parse("ceil(a * 2) + b").names == {"a", "b"}


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os')",
        "x.__class__",
        "open('f')",
        "(lambda: 1)()",
        "[i for i in range(3)]",
        "x[0]",
        "f'{x}'",
        "x := 3",
        "round(x, ndigits=2)",
        "b'bytes'",
        "1 +",
        "x" * 600,
    ],
)
def test_anything_outside_the_whitelist_is_refused(source):
    with pytest.raises(ExpressionError):
        parse(source)


def test_evaluation_errors_are_expression_errors():
    with pytest.raises(ExpressionError, match="unknown name"):
        parse("a + b").evaluate({"a": 1})
    with pytest.raises(ExpressionError, match="cannot evaluate"):
        parse("a / b").evaluate({"a": 1, "b": 0})
    with pytest.raises(ExpressionError, match="must give a number"):
        parse("a == 1").number({"a": 1})


@pytest.mark.parametrize(
    ("source", "values", "reason"),
    [
        ("'a' * 1000000000", {}, "string longer than"),
        ("1000000000 * 'a'", {}, "string longer than"),
        ("('a', 'b') * 1000000000", {}, "tuple longer than"),
        ("s * n", {"s": "ab", "n": 10**9}, "string longer than"),
        ("round(10, -1000000000000)", {}, "round\\(\\) takes at most"),
        ("round(x, n)", {"x": 10, "n": -(10**12)}, "round\\(\\) takes at most"),
        ("'%999999999d' % 1", {}, "string formatting"),
        ("123456789012345 * 123456789012345 * 123456789", {}, "more than 30 digits"),
        ("x + 1", {"x": 10**40}, "more than 30 digits"),
        ("ceil(1e300)", {}, "more than 30 digits"),
        ("s", {"s": "x" * 5000}, "string longer than"),
        ("ceil(1e308 * 10)", {}, "cannot evaluate"),
        ("max()", {}, "cannot evaluate"),
    ],
)
def test_resource_limits_are_expression_errors_with_a_reason(source, values, reason):
    with pytest.raises(ExpressionError, match=reason):
        parse(source).evaluate(values)


@pytest.mark.parametrize(
    ("source", "reason"),
    [
        ("10**10**10", "Pow is not allowed"),
        ("-" * 400 + "1", "nested deeper than"),
        ("not " * 100 + "x", "nested deeper than"),
        ("+".join(["1"] * 200), "nested deeper than"),
        ("(" * 240 + "1" + ")" * 240, "cannot parse"),
        ("[" * 240 + "]" * 240, "cannot parse"),
        ("1 +\x00 2", "cannot parse"),
    ],
)
def test_exponents_depth_and_parser_failures_are_refused_at_parse(source, reason):
    with pytest.raises(ExpressionError, match=reason):
        parse(source)


def test_python_failures_become_expression_errors(monkeypatch):
    expression = parse("a + b")
    for failure in (RecursionError, MemoryError, OverflowError):

        def fail(self, node, failure=failure):
            raise failure("provoked")

        monkeypatch.setattr("cloud.codesign.expressions._Evaluator.visit_BinOp", fail)
        with pytest.raises(ExpressionError, match=f"{failure.__name__}|provoked"):
            expression.evaluate({"a": 1, "b": 2})


def test_limits_leave_ordinary_expressions_alone():
    assert parse("round(1234.5678, -1)").evaluate({}) == 1230.0
    assert parse("round(2.5)").evaluate({}) == 2
    assert parse("'ab' * 3").evaluate({}) == "ababab"
    assert parse("+".join(["1"] * 40)).evaluate({}) == 40
