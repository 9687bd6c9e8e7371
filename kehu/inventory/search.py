"""Global search: find a serial unit by its serial number (exact, then prefix)."""

from __future__ import annotations

from .models import SerialUnit


def search_serials(user, text, limit):
    text = (text or "").strip()
    if len(text) < 3:
        return []
    units = list(
        SerialUnit.objects.filter(serial=text).select_related("product", "warehouse", "customer")[:limit]
    )
    if not units:
        units = list(
            SerialUnit.objects.filter(serial__startswith=text)
            .select_related("product", "warehouse", "customer")
            .order_by("serial")[:limit]
        )
    return [
        {
            "title": u.serial,
            "subtitle": f"{u.product.code} {u.product.name} · {u.get_status_display()}"
            + (f" · {u.warehouse.name}" if u.warehouse else "")
            + (f" · {u.customer.name}" if u.customer else ""),
            "url": u.get_absolute_url(),
        }
        for u in units
    ]
