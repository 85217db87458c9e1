"""The README stays a front door: one page, and a layout that is true to the tree.

Its Layout section must name every top-level module and package of searchapp/ and
searchapp/nas/ (a new module lands in the README with the change that adds it), and every
``.py`` file it names must exist.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
MAX_LINES = 250
# the Layout block's headers (unindented lines) that open each package's entries
PACKAGES = {"searchapp/": ROOT / "searchapp", "searchapp/nas/": ROOT / "searchapp" / "nas"}


def layout_block() -> list[str]:
    """The lines of the fenced block under the README's "## Layout" heading."""
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## Layout\n(.*?)(?=^## |\Z)", text, re.S | re.M)
    assert section, "README.md has no '## Layout' section"
    block = re.search(r"^```[^\n]*\n(.*?)^```", section.group(1), re.S | re.M)
    assert block, "the Layout section has no fenced block"
    return block.group(1).splitlines()


def entries_by_header() -> dict[str, str]:
    """Each unindented header of the block ("searchapp/nas/") -> the text of its entries."""
    sections: dict[str, list[str]] = {}
    current = None
    for line in layout_block():
        if line and not line[0].isspace():
            current = line.split()[0]
            sections[current] = [line[len(current) :]]
        elif current is not None:
            sections[current].append(line)
    return {header: "\n".join(lines) for header, lines in sections.items()}


def top_level(package: Path) -> tuple[list[str], list[str]]:
    """The package's own modules (``x.py``) and subpackages (folders with an __init__.py)."""
    modules = sorted(p.name for p in package.glob("*.py") if p.name != "__init__.py")
    packages = sorted(p.name for p in package.iterdir() if (p / "__init__.py").is_file())
    return modules, packages


def named(text: str, token: str) -> bool:
    return re.search(rf"(?<![\w.]){re.escape(token)}(?![\w])", text) is not None


def test_readme_is_one_page():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_LINES, f"README.md has {len(lines)} lines; keep it to {MAX_LINES}"


def test_layout_names_every_module_of_searchapp_and_the_engine():
    sections = entries_by_header()
    missing = []
    for header, package in PACKAGES.items():
        assert header in sections, f"the Layout block has no '{header}' entry"
        text = sections[header]
        modules, packages = top_level(package)
        missing += [f"{header}{m}" for m in modules if not named(text, m)]
        missing += [
            f"{header}{p}/"
            for p in packages
            if not named(text, f"{p}/") and f"{header}{p}/" not in sections
        ]
    assert not missing, f"README.md's Layout does not name: {', '.join(missing)}"


def test_layout_names_no_module_that_is_gone():
    sections = entries_by_header()
    stale = []
    for header, package in PACKAGES.items():
        files = {p.name for p in package.rglob("*.py")}
        names = set(re.findall(r"(?<![\w./])(\w+\.py)\b", sections.get(header, "")))
        stale += [f"{header}...{n}" for n in sorted(names - files)]
    assert not stale, f"README.md's Layout names files that do not exist: {', '.join(stale)}"
