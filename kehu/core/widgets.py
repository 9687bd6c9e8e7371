"""Widgets that render faster than Django's template-based ones where a page has many options.

Django renders every ``<option>`` of a ``<select>`` through a template: a filter of 200 colleagues
costs 6–7 ms per page.  ``FastSelect`` writes the same HTML in Python (same attributes, same
escaping); lists swap their filter forms' plain selects for it."""

from __future__ import annotations

from html import escape

from django import forms
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import mark_safe

from kehu.core.choices import cached_choices


def _option(o) -> str:
    return format_html('<option value="{}"{}>{}</option>', o["value"], flatatt(o["attrs"]), o["label"])


class FastSelect(forms.Select):
    def render(self, name, value, attrs=None, renderer=None):
        choices = self.choices if isinstance(self.choices, list) else list(self.choices)
        if any(isinstance(label, (list, tuple)) for _value, label in choices):
            return self._render_groups(name, value, attrs)
        # flat choices (nearly all): Django's optgroups() and a dict per option are most of the
        # time of a select of a few hundred colleagues; the HTML is the same
        values = set(self.format_value(value))
        parts = [format_html('<select name="{}"{}>', name, flatatt(self.build_attrs(self.attrs, attrs)))]
        chosen = False
        for v, label in choices:
            v = "" if v is None else str(v)
            if not chosen and v in values:
                chosen = True
                parts.append(f'<option value="{escape(v)}" selected>{escape(str(label))}</option>')
            else:
                parts.append(f'<option value="{escape(v)}">{escape(str(label))}</option>')
        parts.append("</select>")
        return mark_safe("".join(parts))  # noqa: S308 - every value and label is escaped above

    def _render_groups(self, name, value, attrs):
        w = self.get_context(name, value, attrs)["widget"]
        parts = [format_html('<select name="{}"{}>', w["name"], flatatt(w["attrs"]))]
        for group, options, _index in w["optgroups"]:
            if group:
                parts.append(format_html('<optgroup label="{}">', group))
            parts.extend(_option(o) for o in options)
            if group:
                parts.append("</optgroup>")
        parts.append("</select>")
        return mark_safe("".join(parts))  # noqa: S308 - every piece above is escaped by format_html


def speed_up_selects(form: forms.Form) -> None:
    """Render the form's plain selects with :class:`FastSelect` (same HTML), and read the options
    of model choices with one plain query: Django iterates them with ``iterator()``, which on
    PostgreSQL opens a server-side cursor (three round trips) for what are a few dozen rows."""
    for field in form.fields.values():
        if type(field.widget) is forms.Select:
            field.widget.__class__ = FastSelect
        if isinstance(field, forms.ModelChoiceField) and field.queryset is not None:
            qs = field.queryset
            if _default_labels(field) and getattr(qs.model, "cache_choices", False):
                options = list(cached_choices(qs, lambda qs=qs: model_choices(qs)))
            else:
                iterator = field.iterator(field)
                options = [iterator.choice(obj) for obj in list(qs)]
            if field.empty_label is not None:
                options.insert(0, ("", field.empty_label))
            field.widget.choices = options


def model_choices(qs) -> list[tuple]:
    """``(pk, str(obj))`` of a queryset; from a few columns when the model says which
    (``choice_fields`` and ``choice_label``), without building its objects."""
    label = getattr(qs.model, "choice_label", None)
    if label is not None:
        return [(row[0], label(*row[1:])) for row in qs.values_list("pk", *qs.model.choice_fields)]
    return [(obj.pk, str(obj)) for obj in qs]


def _default_labels(field) -> bool:
    """The field shows each object as ``str(obj)`` and submits its primary key."""
    return (
        type(field).label_from_instance is forms.ModelChoiceField.label_from_instance
        and field.to_field_name is None
    )
