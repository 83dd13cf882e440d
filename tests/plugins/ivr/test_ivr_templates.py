"""IVR prompt templates: placeholders, filters, value formatting and refused templates."""

from __future__ import annotations

import pytest

from plugins.ivr.templates import TemplateError, check_template, render, template_names

VARIABLES = {
    "customer": {"name": "Ann", "address": {"city": "Brno"}, "tier": None},
    "balance": 12.5,
    "account": "1234",
    "pin": 4321,
    "vip": True,
    "blocked": False,
    "count": 3.0,
    "empty": "",
    "items": [],
}


def test_the_example_prompt():
    text = "Hello {{ customer.name }}, your balance is {{ balance | money }} dollars."
    assert render(text, VARIABLES) == "Hello Ann, your balance is 12.50 dollars."


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("no placeholders", "no placeholders"),
        ("", ""),
        ("{{name}}", ""),
        ("{{ customer.name }}", "Ann"),
        ("{{customer.name}}", "Ann"),
        ("{{   customer.address.city   }}", "Brno"),
        ("[{{ customer.missing }}]", "[]"),
        ("[{{ customer.name.first }}]", "[]"),
        ("[{{ unknown.a.b }}]", "[]"),
        ("{{ customer.tier }}", ""),
        ("{{ vip }}/{{ blocked }}", "yes/no"),
        ("{{ count }}", "3"),
        ("{{ balance }}", "12.5"),
        ("{{ pin }}", "4321"),
        ("{ single } braces } stay", "{ single } braces } stay"),
        ("{{ a }}{{ b }}", ""),
        ("{{\ncustomer.name\n}}", "Ann"),
    ],
)
def test_placeholders(text, expected):
    assert render(text, VARIABLES) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{ account | digits }}", "1 2 3 4"),
        ("{{ pin | digits }}", "4 3 2 1"),
        ("{{ code | digits }}", "A 1 2"),
        ("{{ unknown | digits }}", ""),
        ("{{ customer.name | upper }}", "ANN"),
        ("{{ customer.name | lower }}", "ann"),
        ("{{ vip | upper }}", "YES"),
        ("{{ balance | money }}", "12.50"),
        ("{{ pin | money }}", "4321.00"),
        ("{{ rounding | money }}", "2.68"),
        ("{{ negative | money }}", "-3.10"),
        ("{{ text_amount | money }}", "7.00"),
        ("{{ customer.name | money }}", "Ann"),
        ("{{ unknown | money }}", ""),
        ("{{ vip | money }}", "yes"),
        ('{{ unknown | default("friend") }}', "friend"),
        ('{{ empty | default("none") }}', "none"),
        ('{{ items | default("none") }}', "none"),
        ('{{ customer.tier | default("standard") }}', "standard"),
        ('{{ customer.name | default("friend") }}', "Ann"),
        ('{{ blocked | default("x") }}', "no"),
        ('{{ zero | default("x") }}', "0"),
        ("{{ unknown | default('single quotes') }}", "single quotes"),
        ('{{ unknown | default("a | b }} c") }}', "a | b }} c"),
        ('{{ unknown | default("") }}', ""),
        ('{{ unknown | default( "spaced" ) }}', "spaced"),
        ('{{ customer.name | default("x") | upper }}', "ANN"),
        ('{{ unknown | default("x") | upper }}', "X"),
        ('{{ empty | upper | default("was empty") }}', "was empty"),
        ("{{ account|digits|lower }}", "1 2 3 4"),
    ],
)
def test_filters(text, expected):
    variables = {
        **VARIABLES,
        "code": "A1 2",
        "rounding": 2.675,
        "negative": -3.1,
        "text_amount": " 7 ",
        "zero": 0,
    }
    assert render(text, variables) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Hello {{ name", "'{{' at position 6 is never closed with '}}'"),
        ("{{ a }} and {{ b", "at position 12 is never closed"),
        ("Hello name }}", "'}}' at position 11 has no opening '{{'"),
        ("{{ a }} b }}", "'}}' at position 10 has no opening"),
        ("{{}}", "empty placeholder at position 0"),
        ("x {{   }}", "empty placeholder at position 2"),
        ("{{ | upper }}", "has no variable before '\\|'"),
        ("{{ a..b }}", "bad variable path 'a..b'"),
        ("{{ a. }}", "bad variable path 'a.'"),
        ("{{ 1a }}", "bad variable path '1a'"),
        ("{{ _secret }}", "bad variable path '_secret'"),
        ("{{ a._b }}", "bad variable path 'a._b'"),
        ("{{ a b }}", "bad variable path 'a b'"),
        ("{{ a[0] }}", "bad variable path"),
        ("{{ {{ a }} }}", "bad variable path"),
        ("{{{ a }}}", "bad variable path"),
        ("{{ a | shout }}", "unknown filter 'shout' at position 0 \\(known: default, digits"),
        ("{{ a | }}", "filter '' at position 0 is malformed"),
        ("{{ a | default }}", "filter 'default' at position 0 needs a text"),
        ("{{ a | default() }}", "needs a text"),
        ("{{ a | default(x) }}", "is malformed"),
        ('{{ a | upper("x") }}', "filter 'upper' at position 0 takes no argument"),
        ("{{ a | money() }}", "takes no argument"),
        ('{{ a | default("x }}', "never closed"),
    ],
)
def test_refused_templates(text, message):
    with pytest.raises(TemplateError, match=message):
        check_template(text)
    with pytest.raises(TemplateError):
        render(text, VARIABLES)


def test_check_template_accepts_good_templates():
    check_template('Hi {{ customer.name | default("there") | upper }}, press {{ key }}.')
    check_template("plain text")


def test_template_names():
    text = "{{ customer.name }} {{ balance | money }} {{ customer.tier }} {{ a.b.c }}"
    assert template_names(text) == frozenset({"customer", "balance", "a"})
    assert template_names("no placeholders") == frozenset()
    with pytest.raises(TemplateError):
        template_names("{{ oops")


def test_errors_are_value_errors():
    assert issubclass(TemplateError, ValueError)
