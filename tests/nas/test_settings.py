"""Settings as dataclass fields: conversion by type, bounds, structured errors."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from searchapp.nas.settings import SettingError, parse_settings, setting, settings_of


@dataclass
class Toy:
    depth: int = setting(3, label="Depth", lo=1, hi=10)
    rate: float | None = setting(None, label="Rate", lo=0, lo_open=True, hi=1)
    kernels: tuple[int, ...] = setting((3, 5), label="Kernels", choices=((3, "3"), (5, "5")))
    mode: str = setting("a", label="Mode", choices=(("a", "A"), ("b", "B")))


TOY = settings_of(Toy)


def test_types_come_from_the_annotations():
    kinds = {s.name: (s.kind, s.optional, s.multiple) for s in TOY}
    assert kinds == {
        "depth": (int, False, False),
        "rate": (float, True, False),
        "kernels": (int, False, True),
        "mode": (str, False, False),
    }


@pytest.mark.parametrize(
    "raw, expected",
    [
        ({"depth": "4"}, {"depth": 4}),
        ({"depth": 4.0}, {"depth": 4}),
        ({"rate": ""}, {"rate": None}),
        ({"rate": "0.5"}, {"rate": 0.5}),
        ({"kernels": "3, 5"}, {"kernels": (3, 5)}),
        ({"kernels": ["5"]}, {"kernels": (5,)}),
    ],
)
def test_values_are_converted_by_type(raw, expected):
    assert parse_settings(TOY, raw) == expected


@pytest.mark.parametrize(
    "raw, field",
    [
        ({"depth": "four"}, "depth"),
        ({"depth": 4.5}, "depth"),
        ({"depth": True}, "depth"),
        ({"kernels": "3,x"}, "kernels"),
        ({"nope": 1}, "nope"),
    ],
)
def test_bad_values_name_their_field(raw, field):
    with pytest.raises(SettingError) as caught:
        parse_settings(TOY, raw)
    assert caught.value.field == field


@pytest.mark.parametrize(
    "name, value",
    [
        ("depth", 0),
        ("depth", 11),
        ("rate", 0.0),
        ("rate", 1.5),
        ("kernels", (7,)),
        ("kernels", ()),
        ("mode", "c"),
        ("rate", float("nan")),
    ],
)
def test_bounds_and_choices_are_checked(name, value):
    s = next(s for s in TOY if s.name == name)
    with pytest.raises(SettingError, match=name):
        s.check(value)
