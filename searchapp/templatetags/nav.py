"""What the top bar offers: the section a page belongs to, and whether the Research tools show.

The research tools (derive a dataset, the paper's suite, the paper-style report) need the official
CIFAR-10 / Tiny-ImageNet archives on the server; without them they are offered to staff only.
"""

from __future__ import annotations

from django import template

from searchapp import derive

register = template.Library()

# a route's name prefix -> the top-bar entry it belongs to (the longest prefix wins)
SECTIONS = {
    "searchapp-home": "start",
    "searchapp-start": "start",
    "searchapp-dataset": "datasets",
    "searchapp-search": "searches",
    "searchapp-download": "searches",
    "searchapp-derive": "research",
    "searchapp-suite": "research",
    "searchapp-report": "research",
    "searchapp-token": "account",
}


def research_open(user) -> bool:
    """Whether `user` is offered the research tools: staff, or anyone once an archive is there."""
    if getattr(user, "is_staff", False):
        return True
    return any(derive.source_path(kind) is not None for kind in derive.KIND_LABELS)


@register.simple_tag(takes_context=True)
def show_research(context) -> bool:
    return research_open(context.get("user"))


@register.simple_tag(takes_context=True)
def nav_section(context) -> str:
    """The top-bar entry of the page being rendered ("" when none)."""
    request = context.get("request")
    match = getattr(request, "resolver_match", None)
    name = (match.url_name if match else "") or ""
    best = ""
    for prefix in SECTIONS:
        if name.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return SECTIONS.get(best, "")
