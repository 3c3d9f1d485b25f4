"""A small, safe expression language for product family rules, durations and prices.

Expressions are Python-like (``payload_kg > 20 and base == 'reinforced'``,
``60 + 2.5 * payload_kg``, ``1200 if finish == 'powder' else 0``) but are parsed once into an
AST and checked against a whitelist: literals, option names, arithmetic, comparisons, boolean
logic, conditional expressions and a few functions. Nothing else can run.

Nothing in it can exhaust the coordinator either: the text, the syntax tree's depth, strings,
tuples, integers and ``round``'s digits all have caps, checked before the work they bound is done,
and every failure -- including ``RecursionError``, ``MemoryError`` and ``OverflowError`` -- is an
``ExpressionError`` with a reason.
"""

from __future__ import annotations

import ast
import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

Value = bool | int | float | str
MAX_EXPRESSION_LENGTH = 500
MAX_DEPTH = 64
MAX_STRING_LENGTH = 1_000
MAX_SEQUENCE_LENGTH = 100
MAX_INTEGER_DIGITS = 30
MAX_ROUND_DIGITS = 15
_INTEGER_LIMIT = 10**MAX_INTEGER_DIGITS
# Failures of Python itself that an expression can provoke; anything else is a bug of ours.
_EVALUATION_ERRORS = (ArithmeticError, TypeError, ValueError, RecursionError, MemoryError)

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], bool]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
}
_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "min": min,
    "max": max,
    "abs": abs,
    "round": lambda number, digits=None: round(number, _round_digits(digits)),
    "ceil": math.ceil,
    "floor": math.floor,
}


class ExpressionError(ValueError):
    """An expression that cannot be parsed or evaluated."""


@dataclass(frozen=True)
class Expression:
    """A parsed expression; ``names`` are the option ids it reads."""

    source: str
    tree: ast.Expression
    names: frozenset[str]

    def evaluate(self, values: Mapping[str, Value]) -> Value:
        try:
            result: Value = _Evaluator(values, self.source).visit(self.tree.body)
        except ExpressionError:
            raise
        except _EVALUATION_ERRORS as exc:
            raise ExpressionError(f"cannot evaluate {self.source!r}: {exc}") from exc
        return result

    def number(self, values: Mapping[str, Value]) -> float:
        result = self.evaluate(values)
        if isinstance(result, bool) or not isinstance(result, int | float):
            raise ExpressionError(f"{self.source!r} must give a number, gave {result!r}")
        if not math.isfinite(result):
            raise ExpressionError(f"{self.source!r} gave a non-finite number")
        return float(result)

    def truth(self, values: Mapping[str, Value]) -> bool:
        return bool(self.evaluate(values))


def parse(source: str | int | float | bool) -> Expression:
    """Parse and check an expression (a bare number or boolean is a constant expression)."""
    text = source if isinstance(source, str) else repr(source)
    if len(text) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"expression longer than {MAX_EXPRESSION_LENGTH} characters")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot parse {text!r}: {exc.msg}") from exc
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionError(f"cannot parse {text!r}: {type(exc).__name__}") from exc
    names: set[str] = set()
    for node, depth in _walk_with_depth(tree):
        if depth > MAX_DEPTH:
            raise ExpressionError(f"expression nested deeper than {MAX_DEPTH} levels")
        _check_node(node, text)
        if isinstance(node, ast.Name) and node.id not in _FUNCTIONS:
            names.add(node.id)
    return Expression(text, tree, frozenset(names))


def _walk_with_depth(tree: ast.AST) -> list[tuple[ast.AST, int]]:
    """Every node with its depth, without recursion (a deep tree must not blow Python's stack)."""
    found, stack = [], [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        found.append((node, depth))
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return found


def _round_digits(digits: Any) -> Any:
    if isinstance(digits, int) and abs(digits) > MAX_ROUND_DIGITS:
        # round(10, -10**12) would compute 10**(10**12) before answering.
        raise ExpressionError(f"round() takes at most {MAX_ROUND_DIGITS} digits, got {digits}")
    return digits


def _check_repeat(left: Any, right: Any) -> None:
    """Refuse ``'a' * 10**9`` before Python builds it."""
    for sequence, count in ((left, right), (right, left)):
        if isinstance(sequence, str | tuple) and isinstance(count, int):
            cap = MAX_STRING_LENGTH if isinstance(sequence, str) else MAX_SEQUENCE_LENGTH
            if len(sequence) * count > cap:
                kind = "string" if isinstance(sequence, str) else "tuple"
                raise ExpressionError(f"a {kind} longer than {cap} is not allowed")


def _bounded(value: Any) -> Any:
    """Every value an expression reads or makes stays within the caps."""
    if isinstance(value, str) and len(value) > MAX_STRING_LENGTH:
        raise ExpressionError(f"a string longer than {MAX_STRING_LENGTH} is not allowed")
    if isinstance(value, tuple) and len(value) > MAX_SEQUENCE_LENGTH:
        raise ExpressionError(f"a tuple longer than {MAX_SEQUENCE_LENGTH} is not allowed")
    if isinstance(value, int) and not -_INTEGER_LIMIT < value < _INTEGER_LIMIT:
        raise ExpressionError(
            f"an integer with more than {MAX_INTEGER_DIGITS} digits is not allowed"
        )
    return value


_ALLOWED_NODES = (
    ast.Expression,
    ast.Constant,
    ast.Name,
    ast.Load,
    ast.BinOp,
    ast.UnaryOp,
    ast.BoolOp,
    ast.Compare,
    ast.IfExp,
    ast.Call,
    ast.Tuple,
    ast.List,
    ast.And,
    ast.Or,
    ast.Not,
    ast.USub,
    ast.UAdd,
    *_BINARY,
    *_COMPARE,
)


def _check_node(node: ast.AST, text: str) -> None:
    if not isinstance(node, _ALLOWED_NODES):
        raise ExpressionError(f"{type(node).__name__} is not allowed in {text!r}")
    if isinstance(node, ast.Constant) and not isinstance(node.value, bool | int | float | str):
        raise ExpressionError(f"constant {node.value!r} is not allowed in {text!r}")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in _FUNCTIONS:
            raise ExpressionError(f"only {', '.join(sorted(_FUNCTIONS))} may be called in {text!r}")
        if node.keywords:
            raise ExpressionError(f"keyword arguments are not allowed in {text!r}")


class _Evaluator(ast.NodeVisitor):
    def __init__(self, values: Mapping[str, Value], source: str) -> None:
        self.values = values
        self.source = source

    def visit(self, node: ast.AST) -> Any:
        return _bounded(super().visit(node))

    def visit_Constant(self, node: ast.Constant) -> Any:
        return node.value

    def visit_Name(self, node: ast.Name) -> Any:
        if node.id not in self.values:
            raise ExpressionError(f"unknown name {node.id!r} in {self.source!r}")
        return self.values[node.id]

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        left, right = self.visit(node.left), self.visit(node.right)
        if isinstance(node.op, ast.Mult):
            _check_repeat(left, right)
        if isinstance(node.op, ast.Mod) and isinstance(left, str):
            # '%999999999d' % 1 would build a gigabyte string.
            raise ExpressionError(f"string formatting is not allowed in {self.source!r}")
        return _BINARY[type(node.op)](left, right)

    def visit_UnaryOp(self, node: ast.UnaryOp) -> Any:
        operand = self.visit(node.operand)
        if isinstance(node.op, ast.Not):
            return not operand
        return -operand if isinstance(node.op, ast.USub) else +operand

    def visit_BoolOp(self, node: ast.BoolOp) -> Any:
        if isinstance(node.op, ast.And):
            return all(self.visit(value) for value in node.values)
        return any(self.visit(value) for value in node.values)

    def visit_Compare(self, node: ast.Compare) -> Any:
        left = self.visit(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.visit(comparator)
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def visit_IfExp(self, node: ast.IfExp) -> Any:
        return self.visit(node.body) if self.visit(node.test) else self.visit(node.orelse)

    def visit_Call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)  # guaranteed by _check_node
        return _FUNCTIONS[node.func.id](*(self.visit(arg) for arg in node.args))

    def visit_Tuple(self, node: ast.Tuple) -> Any:
        return tuple(self.visit(element) for element in node.elts)

    def visit_List(self, node: ast.List) -> Any:
        return tuple(self.visit(element) for element in node.elts)

    def generic_visit(self, node: ast.AST) -> Any:
        raise ExpressionError(f"{type(node).__name__} is not allowed in {self.source!r}")
