"""``{% exported_candidates search as rows %}``: the search page's "Exported candidates"."""

from django import template

from searchapp.searches import exported_candidates as _exported

register = template.Library()


@register.simple_tag
def exported_candidates(search) -> list[dict]:
    return _exported(search)
