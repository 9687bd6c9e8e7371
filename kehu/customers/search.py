from django.db.models import Q

from .filters import customer_search_q
from .selectors import customers_visible_to


def search_customers(user, text, limit):
    """Name, short name, pinyin initials (bjhx), number, phone or tax number."""
    q = customer_search_q(text)
    if len(text.strip()) >= 15:
        q |= Q(tax_number=text.strip().upper())
    qs = customers_visible_to(user).active().filter(q)[:limit]
    return [
        {
            "title": c.name,
            "subtitle": f"{c.number} · {c.get_status_display()} · {c.owner or '—'}",
            "url": c.get_absolute_url(),
        }
        for c in qs
    ]
