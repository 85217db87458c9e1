"""{% load headline_tags %}: a search's headline accuracy and deploy card (searchapp/headline.py)."""

from __future__ import annotations

from django import template

from searchapp import headline as service
from searchapp.serializers import budget_limits, downloads
from searchapp.templatetags.mininas import ci, pct

register = template.Library()


@register.filter
def headline(search):
    """The search's headline result (headline.headline), or None."""
    return service.headline(search)


@register.filter
def headacc(h) -> str:
    """A headline result as '71.00% (95% CI 66.0–74.0)', or a dash."""
    return f"{pct(h.get('acc'))}{ci(h.get('ci95'))}" if h else pct(None)


@register.simple_tag
def deploy_card(search):
    """The search's deploy card (headline.deploy), or None."""
    return service.deploy(search, downloads(search), budget_limits(search.settings))
