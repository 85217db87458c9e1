"""The class list a user gives for a derived dataset: checked the same way for every source."""

from __future__ import annotations

from ..errors import DataError


def check_class_list(classes: list[str] | str) -> list[str]:
    """The names, stripped (a string is split on commas); at least two, none empty."""
    if isinstance(classes, str):
        classes = classes.split(",")
    names = [str(c).strip() for c in classes]
    if any(not n for n in names):
        raise DataError("empty class name in the class list", field="classes")
    if len(names) < 2:
        raise DataError(
            f"need at least two classes, got {len(names)}: {', '.join(names)}", field="classes"
        )
    return names


def no_duplicates(resolved: list[str], given: list[str]) -> None:
    """DataError if two given names resolve to the same class."""
    seen: dict[str, str] = {}
    for r, g in zip(resolved, given, strict=True):
        if r in seen:
            raise DataError(f"class {r!r} is listed twice ({seen[r]!r} and {g!r})", field="classes")
        seen[r] = g
