"""Safe expressions for IVR conditions and set-variable values.

Rules for flow authors:

- An expression is one line of Python-like syntax, at most 500 characters, for example
  ``customer.tier == "gold" and balance > 100`` or ``"vip" if score > 80 else "normal"``.
- Values: strings, whole and decimal numbers, ``True``, ``False``, ``None``, lists
  ``[1, 2]`` and tuples ``(1, 2)``.
- Operators: ``+ - * / // %``, unary ``-``, comparisons ``== != < <= > >=``, ``in`` and
  ``not in``, ``and``, ``or``, ``not``, and ``a if condition else b``. There is no ``**``.
- Variables: a name that the call has not set is ``None``, never an error. ``a.b`` reads
  the key ``b`` of the object ``a`` (same as ``a["b"]``); ``items[0]`` reads a list
  element. A missing key, an index past the end, or reading from ``None`` gives ``None``.
- An ordering comparison (``< <= > >=``) with ``None`` on either side is false: an unset
  variable is never greater or smaller than anything. ``x in None`` is false. Any other
  mix of types that does not fit (``"a" < 1``, ``None + 1``) is an error when the
  expression runs.
- Functions: ``len``, ``int``, ``float``, ``str``, ``round``, ``abs``, ``min``, ``max``,
  ``lower(s)``, ``upper(s)``, ``contains(haystack, needle)`` and ``matches(text, regex)``
  (the whole text must match; regex at most 200 characters, text at most 1000).
  ``len(None)`` is 0; ``lower``, ``upper`` and ``matches`` treat ``None`` as unset.
- String methods: ``lower()``, ``upper()``, ``strip()``, ``startswith(...)``,
  ``endswith(...)``. Calling one on an unset value gives ``None``.
- Names and keys that start with ``_``, any other attribute or function, keyword
  arguments, lambdas, comprehensions, ``:=``, f-strings, slices, dict and set literals
  are refused when the flow is saved. Strings and lists built by an expression are
  limited to 100,000 items.
"""

from __future__ import annotations

import ast
import functools
import operator
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import simpleeval

from plugins.ivr.patterns import PatternError, compile_pattern

__all__ = ["Expression", "ExpressionError", "compile_expression", "truthy"]

MAX_SOURCE_LENGTH: Final = 500
MAX_PATTERN_LENGTH: Final = 200
MAX_MATCH_TEXT_LENGTH: Final = 1000
STRING_METHODS: Final = frozenset({"lower", "upper", "strip", "startswith", "endswith"})


class ExpressionError(ValueError):
    """An expression that cannot be compiled or evaluated; the message says why."""


def truthy(value: Any) -> bool:
    """Python truthiness, the rule conditions use: None, 0, "" and [] are false."""
    return bool(value)


def _type_name(value: Any) -> str:
    return "None" if value is None else type(value).__name__


# --- functions -------------------------------------------------------------------------


def _len(value: Any) -> int:
    if value is None:
        return 0
    if not isinstance(value, str | list | tuple | dict):
        raise ExpressionError(f"len() needs a string or a list, not {_type_name(value)}")
    return len(value)


def _str(value: Any) -> str:
    # Only scalars: str() of a big list could allocate far more than the length limits.
    if value is not None and not isinstance(value, str | int | float):
        raise ExpressionError(f"str() needs a string or a number, not {_type_name(value)}")
    return str(value)


def _text_or_none(name: str, value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ExpressionError(f"{name}() needs a string, not {_type_name(value)}")
    return value


def _lower(value: Any) -> str | None:
    text = _text_or_none("lower", value)
    return None if text is None else text.lower()


def _upper(value: Any) -> str | None:
    text = _text_or_none("upper", value)
    return None if text is None else text.upper()


def _contains(haystack: Any, needle: Any) -> bool:
    if haystack is None:
        return False
    if isinstance(haystack, str) and not isinstance(needle, str):
        raise ExpressionError(f"contains() on a string needs a string, not {_type_name(needle)}")
    if not isinstance(haystack, str | list | tuple | dict):
        raise ExpressionError(f"contains() needs a string or a list, not {_type_name(haystack)}")
    return needle in haystack


def _pattern(regex: Any) -> Any:
    if not isinstance(regex, str):
        raise ExpressionError(f"matches() needs a string pattern, not {_type_name(regex)}")
    if len(regex) > MAX_PATTERN_LENGTH:
        raise ExpressionError(f"matches() pattern is longer than {MAX_PATTERN_LENGTH} characters")
    try:
        return compile_pattern(regex)
    except PatternError as exc:
        raise ExpressionError(f"matches() pattern {regex!r} is invalid: {exc}") from None


def _matches(text: Any, regex: Any) -> bool:
    pattern = _pattern(regex)
    subject = _text_or_none("matches", text)
    if subject is None:
        return False
    if len(subject) > MAX_MATCH_TEXT_LENGTH:
        raise ExpressionError(f"matches() text is longer than {MAX_MATCH_TEXT_LENGTH} characters")
    return pattern.fullmatch(subject) is not None


# name -> (function, fewest arguments, most arguments)
FUNCTIONS: Final[Mapping[str, tuple[Callable[..., Any], int, int]]] = {
    "len": (_len, 1, 1),
    "int": (int, 1, 1),
    "float": (float, 1, 1),
    "str": (_str, 1, 1),
    "round": (round, 1, 2),
    "abs": (abs, 1, 1),
    "min": (min, 1, 10),
    "max": (max, 1, 10),
    "lower": (_lower, 1, 1),
    "upper": (_upper, 1, 1),
    "contains": (_contains, 2, 2),
    "matches": (_matches, 2, 2),
}


# --- operators -------------------------------------------------------------------------


def _binary(symbol: str, function: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Any]:
    """Wrap an operator so a type mismatch becomes an ExpressionError naming it."""

    def apply(left: Any, right: Any) -> Any:
        try:
            return function(left, right)
        except ZeroDivisionError:
            raise ExpressionError("division by zero") from None
        except OverflowError:
            raise ExpressionError(f"the result of '{symbol}' is too large") from None
        except simpleeval.IterableTooLong:
            raise ExpressionError(
                f"the result of '{symbol}' would be longer than "
                f"{simpleeval.MAX_STRING_LENGTH} items"
            ) from None
        except TypeError:
            raise ExpressionError(
                f"cannot apply '{symbol}' to {_type_name(left)} and {_type_name(right)}"
            ) from None

    return apply


def _ordering(symbol: str, function: Callable[[Any, Any], bool]) -> Callable[[Any, Any], Any]:
    checked = _binary(symbol, function)

    def compare(left: Any, right: Any) -> Any:
        if left is None or right is None:
            return False
        return checked(left, right)

    return compare


def _modulo(left: Any, right: Any) -> Any:
    # "%" on a string is printf formatting ("%999999999d" % 1); numbers only.
    if isinstance(left, str | bytes):
        raise ExpressionError("'%' works on numbers only")
    return operator.mod(left, right)


def _contained(item: Any, container: Any) -> bool:
    if container is None:
        return False
    return item in container


def _negate(value: Any) -> Any:
    try:
        return -value
    except TypeError:
        raise ExpressionError(f"cannot apply unary '-' to {_type_name(value)}") from None


OPERATORS: Final[Mapping[type[ast.AST], Callable[..., Any]]] = {
    ast.Add: _binary("+", simpleeval.safe_add),
    ast.Sub: _binary("-", operator.sub),
    ast.Mult: _binary("*", simpleeval.safe_mult),
    ast.Div: _binary("/", operator.truediv),
    ast.FloorDiv: _binary("//", operator.floordiv),
    ast.Mod: _binary("%", _modulo),
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: _ordering("<", operator.lt),
    ast.LtE: _ordering("<=", operator.le),
    ast.Gt: _ordering(">", operator.gt),
    ast.GtE: _ordering(">=", operator.ge),
    ast.In: _binary("in", _contained),
    ast.NotIn: _binary("not in", lambda item, container: not _contained(item, container)),
    ast.Not: operator.not_,
    ast.USub: _negate,
}


# --- compile-time validation -----------------------------------------------------------

_REFUSED: Final[Mapping[type[ast.AST], str]] = {
    ast.Lambda: "lambda is not allowed",
    ast.ListComp: "comprehensions are not allowed",
    ast.SetComp: "comprehensions are not allowed",
    ast.DictComp: "comprehensions are not allowed",
    ast.GeneratorExp: "comprehensions are not allowed",
    ast.NamedExpr: "assignment (:=) is not allowed",
    ast.JoinedStr: "f-strings are not allowed",
    ast.Slice: "slices are not allowed",
    ast.Dict: "dict literals are not allowed",
    ast.Set: "set literals are not allowed",
    ast.Starred: "'*' unpacking is not allowed",
    ast.Await: "await is not allowed",
    ast.Yield: "yield is not allowed",
    ast.YieldFrom: "yield is not allowed",
    ast.Pow: "'**' is not allowed",
    ast.Is: "'is' is not allowed; use '=='",
    ast.IsNot: "'is not' is not allowed; use '!='",
}

_ALLOWED: Final = frozenset(
    {
        ast.Expression,
        ast.Constant,
        ast.Name,
        ast.Attribute,
        ast.Subscript,
        ast.List,
        ast.Tuple,
        ast.Compare,
        ast.BoolOp,
        ast.UnaryOp,
        ast.BinOp,
        ast.IfExp,
        ast.Call,
        ast.Load,
        ast.And,
        ast.Or,
        *OPERATORS,
    }
)


def _validate_node(node: ast.AST) -> None:
    """Refuse one node outside the subset, with a message naming the problem."""
    kind = type(node)
    if kind in _REFUSED:
        raise ExpressionError(_REFUSED[kind])
    if kind not in _ALLOWED:
        raise ExpressionError(f"{kind.__name__} is not allowed in an expression")
    if isinstance(node, ast.Constant) and type(node.value) not in (str, int, float, bool):
        if node.value is not None:
            raise ExpressionError(f"{type(node.value).__name__} literals are not allowed")
    elif isinstance(node, ast.Name) and node.id.startswith("_"):
        raise ExpressionError(f"name '{node.id}' is not allowed")
    elif isinstance(node, ast.Attribute) and node.attr.startswith("_"):
        raise ExpressionError(f"attribute '{node.attr}' is not allowed")
    elif isinstance(node, ast.Call):
        _validate_call(node)


def _validate_call(node: ast.Call) -> None:
    if node.keywords:
        raise ExpressionError("keyword arguments are not allowed")
    if isinstance(node.func, ast.Name):
        name = node.func.id
        if name not in FUNCTIONS:
            raise ExpressionError(f"unknown function '{name}'")
        _, fewest, most = FUNCTIONS[name]
        if not fewest <= len(node.args) <= most:
            expected = str(fewest) if fewest == most else f"{fewest} to {most}"
            raise ExpressionError(f"{name}() takes {expected} argument(s), {len(node.args)} given")
        if name == "matches" and len(node.args) == 2:
            pattern = node.args[1]
            if isinstance(pattern, ast.Constant):
                _pattern(pattern.value)  # a bad literal pattern fails when the flow is saved
    elif isinstance(node.func, ast.Attribute):
        if node.func.attr not in STRING_METHODS and not node.func.attr.startswith("_"):
            raise ExpressionError(
                f"unknown method '{node.func.attr}'; "
                f"strings have {', '.join(sorted(STRING_METHODS))}"
            )
    else:
        raise ExpressionError("only named functions and string methods can be called")


def _read_names(tree: ast.Expression) -> frozenset[str]:
    """Top-level variables read: every Name except the function part of a call."""
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    return frozenset(
        node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and id(node) not in called
    )


# --- evaluation ------------------------------------------------------------------------


class _Evaluator(simpleeval.SimpleEval):  # type: ignore[misc]  # simpleeval is untyped
    """simpleeval restricted to plain data: dict lookups, list indexes, string methods."""

    def __init__(self, variables: Mapping[str, Any]) -> None:
        functions = {name: entry[0] for name, entry in FUNCTIONS.items()}
        super().__init__(operators=dict(OPERATORS), functions=functions, names=variables)
        for refused in (
            ast.Assign,
            ast.AugAssign,
            ast.Import,
            ast.keyword,
            ast.Slice,
            ast.JoinedStr,
            ast.FormattedValue,
        ):
            self.nodes.pop(refused, None)
        self.nodes[ast.List] = self._eval_list
        self.nodes[ast.Tuple] = self._eval_tuple

    def _eval_list(self, node: ast.List) -> list[Any]:
        return [self._eval(item) for item in node.elts]

    def _eval_tuple(self, node: ast.Tuple) -> tuple[Any, ...]:
        return tuple(self._eval(item) for item in node.elts)

    def _eval_name(self, node: ast.Name) -> Any:
        return self.names.get(node.id)

    def _eval_attribute(self, node: ast.Attribute) -> Any:
        base = self._eval(node.value)
        if base is None:
            return None
        if isinstance(base, dict):
            return base.get(node.attr)
        if isinstance(base, str) and node.attr in STRING_METHODS:
            raise ExpressionError(f"string method '{node.attr}' must be called: .{node.attr}()")
        raise ExpressionError(f"attribute '{node.attr}' is not allowed on {_type_name(base)}")

    def _eval_subscript(self, node: ast.Subscript) -> Any:
        return _item(self._eval(node.value), self._eval(node.slice))

    def _eval_call(self, node: ast.Call) -> Any:
        arguments = [self._eval(argument) for argument in node.args]
        if isinstance(node.func, ast.Attribute):
            return _call_method(self._eval(node.func.value), node.func.attr, arguments)
        assert isinstance(node.func, ast.Name)  # _validate_call allows nothing else
        return _call_function(node.func.id, arguments)


def _item(container: Any, key: Any) -> Any:
    if container is None:
        return None
    if isinstance(container, dict):
        try:
            return container.get(key)
        except TypeError:
            raise ExpressionError(f"a {_type_name(key)} cannot be a key") from None
    if isinstance(container, list | tuple):
        if not isinstance(key, int) or isinstance(key, bool):
            raise ExpressionError(f"a list index must be a whole number, not {_type_name(key)}")
        return container[key] if -len(container) <= key < len(container) else None
    raise ExpressionError(f"cannot index {_type_name(container)} with [...]")


def _call_method(base: Any, name: str, arguments: list[Any]) -> Any:
    if base is None:
        return None
    if not isinstance(base, str):
        raise ExpressionError(
            f"method '{name}' is only available on strings, not {_type_name(base)}"
        )
    try:
        return getattr(base, name)(*arguments)
    except TypeError as exc:
        raise ExpressionError(f".{name}(): {exc}") from None


def _call_function(name: str, arguments: list[Any]) -> Any:
    function = FUNCTIONS[name][0]
    try:
        return function(*arguments)
    except ExpressionError:
        raise
    except (TypeError, ValueError, OverflowError) as exc:
        raise ExpressionError(f"{name}(): {exc}") from None


# --- public API ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Expression:
    """A compiled, validated expression; evaluate it as often as needed."""

    source: str
    names: frozenset[str]
    _tree: ast.Expression = field(repr=False)

    def evaluate(self, variables: Mapping[str, Any]) -> Any:
        """Evaluate against the call's variables; raises ExpressionError on a bad value."""
        evaluator = _Evaluator(variables)
        try:
            return evaluator.eval(self.source, previously_parsed=self._tree.body)
        except ExpressionError:
            raise
        except simpleeval.InvalidExpression as exc:
            raise ExpressionError(str(exc)) from None
        except RecursionError:
            raise ExpressionError("expression is nested too deeply") from None


@functools.lru_cache(maxsize=1024)
def compile_expression(source: str) -> Expression:
    """Parse and validate once; the result is cached because flows reuse expressions."""
    text = source.strip()
    if not text:
        raise ExpressionError("expression is empty")
    if len(text) > MAX_SOURCE_LENGTH:
        raise ExpressionError(f"expression is longer than {MAX_SOURCE_LENGTH} characters")
    tree = _parse(text)
    _validate(ast.walk(tree))
    return Expression(source=text, names=_read_names(tree), _tree=tree)


def _parse(text: str) -> ast.Expression:
    try:
        return ast.parse(text, mode="eval")
    except SyntaxError as exc:
        where = f" at column {exc.offset}" if exc.offset else ""
        raise ExpressionError(f"syntax error{where}: {exc.msg}") from None
    except (ValueError, RecursionError, MemoryError) as exc:
        raise ExpressionError(f"expression cannot be parsed: {exc}") from None


def _validate(nodes: Iterable[ast.AST]) -> None:
    try:
        for node in nodes:
            _validate_node(node)
    except RecursionError:
        raise ExpressionError("expression is nested too deeply") from None
