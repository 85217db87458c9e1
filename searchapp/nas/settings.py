"""User settings as dataclass fields with their metadata: the one definition of a setting.

A setting is a dataclass field made with ``setting(default, label=..., help=..., lo=..., hi=...)``.
Everything that shows or reads settings is generated from these fields: the engine's CLI
options, the ``search`` management command, the web form and the JSON API's accepted keys.
Values are converted by the field's type (int, float, str, a tuple of them, each optional),
never by lists of names. No torch here: the web process imports this module.
"""

from __future__ import annotations

import argparse
import dataclasses
import types
import typing
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


class SettingError(ValueError):
    """A bad setting; ``field`` names it (None: the settings as a whole)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Setting:
    """One user setting: its name, type, default and how to present and bound it."""

    name: str
    kind: type  # int, float, str or bool (the element type for a multiple setting)
    default: Any
    label: str
    help: str = ""
    lo: float | None = None
    hi: float | None = None
    lo_open: bool = False  # lo itself is out of range
    choices: tuple[tuple[Any, str], ...] = ()  # (value, label)
    strict_choices: bool = True  # False: the choices are suggestions (device "cuda:1")
    optional: bool = False  # None is allowed; a blank form field means None
    multiple: bool = False  # a tuple of values (a comma list on a command line)
    blank_label: str = ""  # what None means, e.g. "recipe default"
    advanced: bool = False  # shown folded away in the form

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def values(self) -> tuple:
        return tuple(v for v, _ in self.choices)

    def parse(self, raw: Any) -> Any:
        """Convert a value from JSON, a form or a command line to this setting's type."""
        if raw is None or (isinstance(raw, str) and raw.strip() == "" and self.optional):
            if self.optional:
                return None
            raise SettingError(f"{self.name} is required", self.name)
        if self.multiple:
            items = raw.split(",") if isinstance(raw, str) else raw
            if not isinstance(items, Iterable):
                raise SettingError(f"{self.name}: expected a list, got {raw!r}", self.name)
            items = [i.strip() if isinstance(i, str) else i for i in items]
            return tuple(self._scalar(i) for i in items if i != "")
        return self._scalar(raw)

    def _scalar(self, raw: Any) -> Any:
        if self.kind is bool:
            return self._bool(raw)
        try:
            if isinstance(raw, bool):
                raise TypeError
            if self.kind is int:
                value = float(raw) if isinstance(raw, str) and "." in raw else raw
                if isinstance(value, float) and not value.is_integer():
                    raise ValueError
                return int(value)
            if self.kind is float:
                return float(raw)
            if isinstance(raw, int):  # a text setting whose values are numbers ("5" folds)
                return str(raw)
            if not isinstance(raw, str):
                raise TypeError
            return raw.strip()
        except (TypeError, ValueError, OverflowError):
            noun = {int: "an integer", float: "a number", str: "text"}[self.kind]
            raise SettingError(f"{self.name} must be {noun}, got {raw!r}", self.name) from None

    def _bool(self, raw: Any) -> bool:
        """True/False, 1/0, or the words on/off, yes/no, true/false (a checkbox, a flag)."""
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, int) and raw in (0, 1):
            return bool(raw)
        if isinstance(raw, str):
            word = raw.strip().lower()
            if word in _TRUE:
                return True
            if word in _FALSE:
                return False
        raise SettingError(f"{self.name} must be true or false, got {raw!r}", self.name)

    def check(self, value: Any) -> None:
        """Raise SettingError (naming this setting) if ``value`` is out of bounds."""
        if value is None:
            if not self.optional:
                raise SettingError(f"{self.name} is required", self.name)
            return
        items = value if self.multiple else (value,)
        if self.multiple and not items:
            raise SettingError(f"{self.name} must not be empty", self.name)
        for item in items:
            self._check_one(item)

    def _check_one(self, v: Any) -> None:
        if self.kind is bool:
            if not isinstance(v, bool):
                raise SettingError(f"{self.name} must be true or false, got {v!r}", self.name)
            return
        if self.choices and self.strict_choices and v not in self.values:
            allowed = ", ".join(str(c) for c in self.values)
            what = "a subset of" if self.multiple else "one of"
            raise SettingError(f"{self.name} must be {what} {allowed}, got {v!r}", self.name)
        if self.kind is str or (self.lo is None and self.hi is None):
            return
        wanted = int if self.kind is int else int | float
        if not isinstance(v, wanted) or isinstance(v, bool):
            noun = "an integer" if self.kind is int else "a number"
            raise SettingError(f"{self.name} must be {noun}, got {v!r}", self.name)
        low_ok = self.lo is None or (v > self.lo if self.lo_open else v >= self.lo)
        if not low_ok or (self.hi is not None and v > self.hi):
            left = "(" if self.lo_open else "["
            raise SettingError(
                f"{self.name} must be in {left}{_num(self.lo)}, {_num(self.hi)}], got {v!r}",
                self.name,
            )

    def describe(self) -> str:
        """Help text with the default and the bounds, for a command line."""
        parts = [self.help or self.label]
        if self.choices:
            parts.append("one or more of " if self.multiple else "one of ")
            parts[-1] += ", ".join(str(v) for v in self.values)
        elif self.lo is not None or self.hi is not None:
            parts.append(f"range {_num(self.lo)}..{_num(self.hi)}")
        if self.default is None:
            parts.append(f"default: {self.blank_label or 'none'}")
        else:
            d = self.default
            parts.append("default: " + (",".join(map(str, d)) if self.multiple else str(d)))
        return "; ".join(parts)


_TRUE = frozenset({"1", "true", "on", "yes"})
_FALSE = frozenset({"0", "false", "off", "no", ""})


def _num(x: float | None) -> str:
    if x is None:
        return "any"
    return str(int(x)) if float(x).is_integer() else str(x)


def setting(
    default: Any,
    label: str,
    help: str = "",
    *,
    bounds: tuple[float, float] | None = None,
    lo: float | None = None,
    hi: float | None = None,
    lo_open: bool = False,
    choices: Iterable[tuple[Any, str]] = (),
    strict_choices: bool = True,
    blank_label: str = "",
    advanced: bool = False,
) -> Any:
    """A dataclass field that is a user setting (see ``Setting``); ``bounds`` is (lo, hi)."""
    if bounds is not None:
        lo, hi = bounds
    meta = {
        "label": label,
        "help": help,
        "lo": lo,
        "hi": hi,
        "lo_open": lo_open,
        "choices": tuple(choices),
        "strict_choices": strict_choices,
        "blank_label": blank_label,
        "advanced": advanced,
    }
    if isinstance(default, tuple):
        return field(default_factory=lambda: default, metadata={"setting": meta})
    return field(default=default, metadata={"setting": meta})


def _kind(hint: Any) -> tuple[type, bool, bool]:
    """(element type, optional, multiple) of a type hint like ``tuple[int, ...] | None``."""
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(args) < len(typing.get_args(hint))
        (hint,) = args
    if typing.get_origin(hint) is tuple:
        return typing.get_args(hint)[0], optional, True
    assert hint in (int, float, str, bool), f"unsupported setting type {hint!r}"
    return hint, optional, False


def settings_of(cls: type) -> tuple[Setting, ...]:
    """The settings of a dataclass, in field order; a field that holds a dataclass is expanded."""
    hints = typing.get_type_hints(cls)
    out: list[Setting] = []
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            out.extend(settings_of(hints[f.name]))
            continue
        meta = f.metadata.get("setting")
        if meta is None:
            continue
        kind, optional, multiple = _kind(hints[f.name])
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        out.append(Setting(f.name, kind, default, optional=optional, multiple=multiple, **meta))
    return tuple(out)


def parse_settings(settings: Iterable[Setting], data: dict) -> dict:
    """Convert the given values by type; unknown names are refused, missing ones left out."""
    by_name = {s.name: s for s in settings}
    unknown = sorted(set(data) - set(by_name))
    if unknown:
        raise SettingError(f"unknown search setting {unknown[0]!r}", unknown[0])
    return {name: by_name[name].parse(raw) for name, raw in data.items() if raw is not None}


# ----------------------------------------------------------------------------- command lines


def add_arguments(parser: argparse.ArgumentParser, settings: Iterable[Setting]) -> None:
    """One option per setting (``--max-depth 8``, ``--ops sep,conv``); unset options are None."""
    group = parser.add_argument_group("search settings")
    for s in settings:
        kwargs: dict[str, Any] = {"dest": s.name, "default": None, "help": s.describe()}
        if s.kind is bool:  # --noise-aware alone turns it on; --noise-aware off, too
            kwargs.update(nargs="?", const="true", metavar="on|off")
        elif s.multiple:
            kwargs["metavar"] = ",".join(str(v) for v in s.values) or "A,B"
        elif s.choices and s.strict_choices:
            kwargs["choices"] = [v for v in s.values if v is not None]
            kwargs["type"] = s.kind
        else:
            kwargs["type"] = s.kind
        group.add_argument(s.flag, **kwargs)


def given(namespace: argparse.Namespace, settings: Iterable[Setting]) -> dict:
    """The settings given on a command line, converted (the rest take their defaults)."""
    values = {s: getattr(namespace, s.name, None) for s in settings}
    return {s.name: s.parse(v) for s, v in values.items() if v is not None}
