"""Numbers in model definitions: a float, or a small arithmetic expression of named parameters.

Model files and programmatic models write couplings as ``J1``, ``-0.5*J2``, ``sqrt(3)*D`` or ``2.5`` so
that a parameter can be overridden once by name (``"J1=2.5, D=0.1"``) and every element that uses it
follows. Only + - * / **, unary minus, parentheses, numbers, parameter names and ``sqrt`` are allowed;
nothing is passed to Python's ``eval``.
"""

from __future__ import annotations

import ast
import math
import numbers

from ..errors import InsganInputError

__all__ = ["evaluate", "names_in"]

_BINOPS = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
_FUNCS = {"sqrt": math.sqrt, "cos": math.cos, "sin": math.sin}


def _parse(text: str, where: str) -> ast.AST:
    try:
        return ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise InsganInputError(
            f"{where}: cannot read {text!r} as a number or an expression of parameter names "
            "(allowed: numbers, names, + - * / **, parentheses, sqrt)"
        ) from None


def _eval(node: ast.AST, params: dict, where: str, text: str) -> float:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.Name):
        if node.id not in params:
            known = ", ".join(sorted(params)) or "none defined"
            raise InsganInputError(
                f"{where}: unknown parameter '{node.id}' in {text!r}; known parameters: {known}. "
                "Define it under 'parameters' or fix the name."
            )
        return float(params[node.id])
    if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
        return _BINOPS[type(node.op)](_eval(node.left, params, where, text), _eval(node.right, params, where, text))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _eval(node.operand, params, where, text)
        return -value if isinstance(node.op, ast.USub) else value
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id in _FUNCS
        and len(node.args) == 1
        and not node.keywords
    ):
        return _FUNCS[node.func.id](_eval(node.args[0], params, where, text))
    raise InsganInputError(
        f"{where}: {text!r} is not allowed; use numbers, parameter names, + - * / **, parentheses and sqrt()"
    )


def evaluate(value, params: dict, *, where: str) -> float:
    """Value of a number or an expression string, checked to be finite.

    Parameters
    ----------
    value : float or str
        A number, or an expression such as ``"-0.5*J2"``.
    params : dict of str -> float
        Parameter values by name.
    where : str
        The model element being evaluated, used in error messages (e.g. ``"bond 3 (J2) exchange"``).
    """
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        result = float(value)
    elif isinstance(value, str):
        try:
            result = _eval(_parse(value, where), params, where, value)
        except (ZeroDivisionError, OverflowError, ValueError) as exc:
            if isinstance(exc, InsganInputError):
                raise
            raise InsganInputError(f"{where}: evaluating {value!r} failed ({exc})") from None
    else:
        raise InsganInputError(f"{where}: expected a number or an expression string, got {value!r}")
    if not math.isfinite(result):
        raise InsganInputError(f"{where}: value {value!r} is {result} (NaN or inf); every model value must be finite")
    return result


def names_in(value) -> set[str]:
    """Parameter names used by a number or expression (empty set for a number)."""
    if not isinstance(value, str):
        return set()
    try:
        tree = ast.parse(value.strip(), mode="eval")
    except SyntaxError:
        return set()
    return {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id not in _FUNCS}
