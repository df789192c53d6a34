"""Small template helpers of the portal: form fields with their labels and errors, money, changes."""

from decimal import Decimal

from django import template

register = template.Library()


@register.inclusion_tag("portal/_field.html")
def field(bound, hint: str = ""):
    """A labelled form control with its errors and hint tied to it by aria-describedby."""
    widget = bound.field.widget
    described = []
    if hint or bound.help_text:
        described.append(f"{bound.auto_id}_hint")
    if bound.errors:
        described.append(f"{bound.auto_id}_errors")
    attrs = {}
    if described:
        attrs["aria-describedby"] = " ".join(described)
    if bound.errors:
        attrs["aria-invalid"] = "true"
    if bound.field.required:
        attrs["required"] = True
    kind = "checkbox" if getattr(widget, "input_type", "") == "checkbox" else "control"
    return {"bound": bound, "widget": bound.as_widget(attrs=attrs), "hint": hint or bound.help_text, "kind": kind}


@register.filter
def amounts(value) -> str:
    """{"EUR": Decimal("200.00")} → "200.00 EUR"; several currencies are joined; nothing → "0.00"."""
    if not value:
        return "0.00"
    items = value.items() if isinstance(value, dict) else value
    return " · ".join(f"{amount} {currency}" for currency, amount in sorted(items))


@register.filter
def change(value) -> str:
    if value is None:
        return "no previous data"
    sign = "+" if value > 0 else ""
    return f"{sign}{value} %"


@register.filter
def change_class(value) -> str:
    if value is None or value == 0:
        return "flat"
    return "up" if value > 0 else "down"


@register.filter
def get(mapping, key):
    try:
        return mapping.get(key, Decimal(0))
    except AttributeError:
        return ""


@register.filter
def status_label(value) -> str:
    """A ledger status as a short word: on_hold → On hold."""
    return str(value).replace("_", " ").capitalize()
