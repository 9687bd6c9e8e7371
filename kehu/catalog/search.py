"""The global search's product section: code, name, specification, pinyin initials, barcode."""

from __future__ import annotations

from .selectors import product_search_q, products


def search_products(user, text, limit):
    qs = products().active().filter(product_search_q(text)).order_by("-is_active", "code")[:limit]
    return [
        {
            "title": f"{p.code} {p.name}",
            "subtitle": " · ".join(
                str(x) for x in (p.spec, p.category, p.get_tracking_display(), p.barcode) if x
            ),
            "url": p.get_absolute_url(),
        }
        for p in qs
    ]
