from django import template

register = template.Library()


@register.filter
def seconds(value) -> str:
    """4.26 -> '4.3s', 12.3 -> '12s', 754 -> '12m 34s', 7260 -> '2h 01m'."""
    if value is None or value == "":
        return "–"
    if float(value) < 10:
        return f"{float(value):.1f}s"
    s = int(round(float(value)))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m {s % 60:02d}s"
    return f"{s // 3600}h {s % 3600 // 60:02d}m"


@register.filter
def pct(value) -> str:
    """An accuracy in percent points with two decimals, or a dash."""
    if value is None or value == "":
        return "–"
    return f"{float(value):.2f}%"
