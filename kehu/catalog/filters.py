"""Filters of the product list (django-filter)."""

from __future__ import annotations

import django_filters as df
from django.utils.translation import gettext_lazy as _

from .models import Product
from .selectors import brands, category_choices, descendant_ids, product_search_q

ACTIVE_CHOICES = [("1", _("On sale")), ("0", _("Discontinued"))]


class ProductFilter(df.FilterSet):
    q = df.CharFilter(label=_("Search"), method="search")
    category = df.ChoiceFilter(label=_("Category (with sub-categories)"), method="in_category", choices=[])
    brand = df.ChoiceFilter(label=_("Brand"), field_name="brand", choices=[])
    tracking = df.ChoiceFilter(label=_("Tracking"), choices=Product.Tracking.choices)
    active = df.ChoiceFilter(label=_("Sales status"), choices=ACTIVE_CHOICES, method="on_sale")

    class Meta:
        model = Product
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.filters["category"].extra["choices"] = [(str(pk), label) for pk, label in category_choices()]
        self.filters["brand"].extra["choices"] = [(b, b) for b in brands()]
        self.form.fields["q"].widget.attrs.update(
            {"placeholder": _("Code, name, model, brand, barcode or pinyin initials")}
        )

    def search(self, queryset, name, value):
        return queryset.filter(product_search_q(value, within=queryset))

    def in_category(self, queryset, name, value):
        return queryset.filter(category_id__in=descendant_ids(int(value)))

    def on_sale(self, queryset, name, value):
        return queryset.filter(is_active=value == "1")
