"""The IVR expression language: what flow authors may write, and every way out refused."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from plugins.ivr.expressions import (
    MAX_SOURCE_LENGTH,
    Expression,
    ExpressionError,
    compile_expression,
    truthy,
)

VARIABLES = {
    "customer": {"tier": "gold", "name": "Ann", "address": {"city": "Brno"}},
    "balance": 150,
    "account": "123456",
    "caller": "+441234",
    "lang": "es",
    "score": 90,
    "attempts": 2,
    "items": [10, 20, 30],
    "flag": False,
    "price": 2.5,
}


def run(source, variables=VARIABLES):
    return compile_expression(source).evaluate(variables)


def refused_at_compile(source, message):
    with pytest.raises(ExpressionError, match=message):
        compile_expression(source)


def refused_at_run(source, message, variables=VARIABLES):
    expression = compile_expression(source)
    with pytest.raises(ExpressionError, match=message):
        expression.evaluate(variables)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('customer.tier == "gold" and balance > 100', True),
        ('customer.tier == "silver" or balance > 1000', False),
        ("len(account) == 6", True),
        ("attempts + 1", 3),
        ('caller.startswith("+44")', True),
        ('caller.endswith("99")', False),
        ('lang in ["en", "es"]', True),
        ('lang not in ("en", "es")', False),
        ('"vip" if score > 80 else "normal"', "vip"),
        ('"vip" if score > 95 else "normal"', "normal"),
        ("not flag", True),
        ("-balance", -150),
        ("balance - 50 * 2", 50),
        ("7 / 2", 3.5),
        ("7 // 2", 3),
        ("7 % 2", 1),
        ("price * 2", 5.0),
        ('"a" + "b"', "ab"),
        ('"ab" * 3', "ababab"),
        ("1 < attempts <= 2", True),
        ("balance != 150", False),
        ("True", True),
        ("None", None),
        ("[1, 2]", [1, 2]),
        ("(1, 2)", (1, 2)),
        ("0 or 5", 5),
        ("3 and 0", 0),
    ],
)
def test_allowed_expressions(source, expected):
    assert run(source) == expected


def test_names_lists_top_level_variables_only():
    expression = compile_expression(
        'customer.tier == "gold" and len(account) > 1 and lower(lang) in items[0]'
    )
    assert expression.names == frozenset({"customer", "account", "lang", "items"})
    assert compile_expression("1 + 2").names == frozenset()


def test_source_is_kept_stripped():
    assert compile_expression("  balance > 1 ").source == "balance > 1"


def test_compile_is_cached():
    assert compile_expression("balance + 1") is compile_expression("balance + 1")
    assert isinstance(compile_expression("balance + 1"), Expression)


def test_evaluate_accepts_any_mapping():
    assert run("a + 1", MappingProxyType({"a": 1})) == 2


# --- variables -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("unknown", None),
        ("customer.address.city", "Brno"),
        ('customer["address"]["city"]', "Brno"),
        ("customer.missing", None),
        ("customer.missing.deeper", None),
        ("unknown.a.b", None),
        ('customer["missing"]', None),
        ("items[0]", 10),
        ("items[-1]", 30),
        ("items[3]", None),
        ("items[-4]", None),
        ("unknown[0]", None),
        ("unknown.lower()", None),
        ("unknown == None", True),
    ],
)
def test_variable_lookups(source, expected):
    assert run(source) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("account.foo", "attribute 'foo' is not allowed on str"),
        ("balance.real", "attribute 'real' is not allowed on int"),
        ("items.count", "attribute 'count' is not allowed on list"),
        ("caller.lower", "string method 'lower' must be called"),
        ("balance.lower()", "method 'lower' is only available on strings, not int"),
        ("customer.upper()", "only available on strings, not dict"),
        ('items["a"]', "list index must be a whole number, not str"),
        ("items[True]", "list index must be a whole number, not bool"),
        ("customer[[1]]", "a list cannot be a key"),
        ("account[0]", r"cannot index str with \[...\]"),
        ("caller.startswith(1)", r"\.startswith\(\)"),
    ],
)
def test_attribute_and_index_rules(source, message):
    refused_at_run(source, message)


def test_string_methods():
    variables = {"s": "  Hello  "}
    assert run("s.strip()", variables) == "Hello"
    assert run("s.lower()", variables) == "  hello  "
    assert run("s.upper()", variables) == "  HELLO  "
    assert run('s.strip().startswith("He")', variables) is True
    assert run('s.strip().endswith("lo")', variables) is True


# --- comparisons and operators ---------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "unknown > 1",
        "unknown >= 1",
        "unknown < 1",
        "unknown <= 1",
        "1 < unknown",
        "unknown < unknown",
        "customer.missing > 0",
    ],
)
def test_ordering_with_none_is_false(source):
    assert run(source) is False


def test_membership_in_none_is_false():
    assert run("1 in unknown") is False
    assert run("1 not in unknown") is True


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('balance < "a"', "cannot apply '<' to int and str"),
        ('"a" >= 1', "cannot apply '>=' to str and int"),
        ("unknown + 1", "cannot apply '\\+' to None and int"),
        ('balance - "1"', "cannot apply '-' to int and str"),
        ('"a" * 1.5', "cannot apply '\\*' to str and float"),
        ("1 in balance", "cannot apply 'in' to int and int"),
        ('-"a"', "cannot apply unary '-' to str"),
        ("1 / 0", "division by zero"),
        ("1 // 0", "division by zero"),
        ("1 % 0", "division by zero"),
        ('"%s" % 1', "'%' works on numbers only"),
        ('"%999999999d" % 1', "'%' works on numbers only"),
    ],
)
def test_type_mismatches_raise(source, message):
    refused_at_run(source, message)


def test_equality_across_types_is_just_false():
    assert run('balance == "150"') is False
    assert run("unknown != 0") is True


# --- functions -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("len(account)", 6),
        ("len(items)", 3),
        ("len(customer)", 3),
        ("len(unknown)", 0),
        ('int("42")', 42),
        ("int(price)", 2),
        ('float("1.5")', 1.5),
        ("str(balance)", "150"),
        ("str(unknown)", "None"),
        ("round(price)", 2),
        ("round(2.345, 2)", 2.35),
        ("abs(-3)", 3),
        ("min(items)", 10),
        ("max(3, 9, 4)", 9),
        ('lower("AbC")', "abc"),
        ('upper("AbC")', "ABC"),
        ("lower(unknown)", None),
        ('contains("hello", "ell")', True),
        ("contains(items, 20)", True),
        ('contains(customer, "tier")', True),
        ("contains(unknown, 1)", False),
        ('matches(account, "[0-9]{6}")', True),
        ('matches(account, "[0-9]{5}")', False),
        ('matches(unknown, "x")', False),
    ],
)
def test_functions(source, expected):
    assert run(source) == expected


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ('int("abc")', r"int\(\): invalid literal"),
        ("int(unknown)", r"int\(\)"),
        ("len(balance)", r"len\(\) needs a string or a list, not int"),
        ("str(items)", r"str\(\) needs a string or a number, not list"),
        ("lower(balance)", r"lower\(\) needs a string, not int"),
        ("min(items[5:6] if False else [])", "slices are not allowed"),
        ("contains(balance, 1)", r"contains\(\) needs a string or a list, not int"),
        ('contains("abc", 1)', r"contains\(\) on a string needs a string, not int"),
        ("matches(x, p)", r"matches\(\) needs a string pattern, not None"),
        ('matches(balance, "1")', r"matches\(\) needs a string, not int"),
        ('max(1, "a")', r"max\(\)"),
    ],
)
def test_function_errors(source, message):
    with pytest.raises(ExpressionError, match=message):
        run(source)


def test_min_of_an_empty_list_is_an_error():
    refused_at_run("min(items)", r"min\(\)", {"items": []})


def test_matches_limits_and_bad_patterns():
    refused_at_compile('matches(x, "(")', "pattern '\\(' is invalid")
    refused_at_run("matches(x, p)", "is invalid", {"x": "a", "p": "[a"})
    refused_at_run("matches(x, p)", "longer than 200", {"x": "a", "p": "a" * 201})
    refused_at_run('matches(x, "a*")', "longer than 1000", {"x": "a" * 1001})
    assert run('matches(x, "a*")', {"x": "a" * 1000}) is True
    assert run('matches(x, "a")', {"x": "ab"}) is False  # whole text, not a prefix


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("len(a, b)", r"len\(\) takes 1 argument\(s\), 2 given"),
        ("round()", r"round\(\) takes 1 to 2 argument\(s\), 0 given"),
        ("contains(a)", r"contains\(\) takes 2"),
        ("round(x, ndigits=1)", "keyword arguments are not allowed"),
        ("len(*items)", "'\\*' unpacking is not allowed"),
    ],
)
def test_call_shapes_checked_at_compile(source, message):
    refused_at_compile(source, message)


# --- escapes and the refused subset ----------------------------------------------------


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("().__class__", "attribute '__class__' is not allowed"),
        ("().__class__.__bases__[0].__subclasses__()", "is not allowed"),
        ("x.__dict__", "attribute '__dict__' is not allowed"),
        ("x._private", "attribute '_private' is not allowed"),
        ("_secret", "name '_secret' is not allowed"),
        ("__builtins__", "name '__builtins__' is not allowed"),
        ('__import__("os")', "unknown function '__import__'"),
        ('open("f")', "unknown function 'open'"),
        ('eval("1")', "unknown function 'eval'"),
        ('getattr(x, "y")', "unknown function 'getattr'"),
        ("type(x)", "unknown function 'type'"),
        ("lambda: 1", "lambda is not allowed"),
        ("(lambda: 1)()", "only named functions and string methods can be called"),
        ("items[0]()", "only named functions and string methods can be called"),
        ("[x for x in items]", "comprehensions are not allowed"),
        ("{x for x in items}", "comprehensions are not allowed"),
        ("{x: 1 for x in items}", "comprehensions are not allowed"),
        ("sum(x for x in items)", "unknown function 'sum'"),
        ("(x := 1)", r"assignment \(:=\) is not allowed"),
        ('f"{x}"', "f-strings are not allowed"),
        ('f"{open(1)}"', "f-strings are not allowed"),
        ('"{}".format(x)', "unknown method 'format'"),
        ("x.format_map(y)", "unknown method 'format_map'"),
        ("x.__class__()", "attribute '__class__' is not allowed"),
        ("2 ** 3", r"'\*\*' is not allowed"),
        ('"a" * 10**9', r"'\*\*' is not allowed"),
        ("x is None", "'is' is not allowed"),
        ("x is not None", "'is not' is not allowed"),
        ("items[0:2]", "slices are not allowed"),
        ("{1: 2}", "dict literals are not allowed"),
        ("{1, 2}", "set literals are not allowed"),
        ("[*items]", "'\\*' unpacking is not allowed"),
        ("1 | 2", "BitOr is not allowed"),
        ("~1", "Invert is not allowed"),
        ("+1", "UAdd is not allowed"),
        ('b"x"', "bytes literals are not allowed"),
        ("1j", "complex literals are not allowed"),
        ("...", "ellipsis literals are not allowed"),
        ("await x", "await is not allowed"),
        ("x = 1", "syntax error"),
        ("import os", "syntax error"),
        ("1; 2", "syntax error"),
        ("1 +", "syntax error"),
        ("", "expression is empty"),
        ("   ", "expression is empty"),
        ("\x00", "cannot be parsed|syntax error"),
        ("(" * 249 + ")" * 249, "syntax error|cannot be parsed|nested too deeply"),
    ],
)
def test_refused_at_compile(source, message):
    refused_at_compile(source, message)


def test_source_length_limit():
    longest = "1 +" + " " * (MAX_SOURCE_LENGTH - 4) + "2"
    assert compile_expression(longest).evaluate({}) == 3
    refused_at_compile("1" * (MAX_SOURCE_LENGTH + 1), "longer than 500 characters")


@pytest.mark.parametrize(
    ("source", "variables"),
    [
        ('"a" * 1000000000', {}),
        ('"a" * 100001', {}),
        ("[0] * 100001", {}),
        ("s * 2", {"s": "a" * 60_000}),
        ("s + s", {"s": "a" * 60_000}),
        ("1000000000 * s", {"s": "ab"}),
    ],
)
def test_string_length_protection(source, variables):
    refused_at_run(source, "longer than 100000 items", variables)


def test_deep_unary_nesting_still_evaluates():
    assert run("-" * 200 + "1") == 1
    assert run("not " * 100 + "True") is True


def test_errors_are_value_errors():
    assert issubclass(ExpressionError, ValueError)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, False),
        (0, False),
        ("", False),
        ([], False),
        ({}, False),
        (0.0, False),
        (1, True),
        ("no", True),
        ([0], True),
        (True, True),
        (False, False),
    ],
)
def test_truthy(value, expected):
    assert truthy(value) is expected
