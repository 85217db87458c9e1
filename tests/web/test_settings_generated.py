"""Every search setting reaches the CLI, the management command, the form and the API.

They are all generated from the engine's SETTINGS, so adding a setting is one dataclass field;
this test is what catches a place that stopped being generated.
"""

from __future__ import annotations

import pytest

from searchapp.forms import SearchForm, search_form_from_dict
from searchapp.management.commands.search import Command
from searchapp.nas.__main__ import _parser
from searchapp.nas.config import SETTINGS, SearchConfig

NEEDS = {"max_latency_ms": {"target": "nano33ble"}}
"""Settings that mean something only beside another one (a latency budget needs a board)."""


def _non_default(s) -> str:
    """A valid value other than the default, as a command line would give it."""
    if s.multiple:
        return str(s.values[0])
    if s.choices:
        return str(next(v for v in s.values if v != s.default))
    if s.kind is bool:
        return "off" if s.default else "on"
    if s.default is None:
        return str(s.kind(s.lo + 1 if s.hi is None else (s.lo + s.hi) / 2))
    if s.hi is not None and s.default + 1 > s.hi:  # a share: halfway to the bound
        return str(s.kind((s.default + s.hi) / 2))
    return str(s.default + 1)


def _subparser(parser, name):
    action = next(a for a in parser._actions if a.dest == "command")
    return action.choices[name]


@pytest.mark.parametrize("s", SETTINGS, ids=lambda s: s.name)
def test_the_engine_cli_takes_it(s):
    args = _subparser(_parser(), "search").parse_args(
        ["data", "--out", "o", s.flag, _non_default(s)]
    )
    assert getattr(args, s.name) == _non_default(s) or s.parse(_non_default(s)) == s.parse(
        getattr(args, s.name)
    )


@pytest.mark.parametrize("s", SETTINGS, ids=lambda s: s.name)
def test_the_management_command_takes_it(s):
    parser = Command().create_parser("manage.py", "search")
    args = parser.parse_args(["1", s.flag, _non_default(s)])
    assert s.parse(getattr(args, s.name)) == s.parse(_non_default(s))


@pytest.mark.parametrize("s", SETTINGS, ids=lambda s: s.name)
def test_the_form_and_the_api_take_it(s, alice, dataset):
    assert s.name in SearchForm.base_fields
    value = s.parse(_non_default(s))
    companions = NEEDS.get(s.name, {})
    payload = {"dataset": dataset.pk, **companions, s.name: list(value) if s.multiple else value}
    form = search_form_from_dict(payload, alice)
    assert form.is_valid(), form.errors
    expected = SearchConfig.from_dict({**companions, s.name: value}).to_dict()[s.name]
    assert form.config[s.name] == expected
