from django.db.models import Q

from .filters import customer_search_q
from .models import Customer
from .selectors import customers_visible_to


def search_customers(user, text, limit):
    """Name, short name, pinyin initials (bjhx), number, phone or tax number: the newest first.
    The ids first, without joins (a broad term's few thousand matches are then not each joined to
    their owner and dictionary entries before the newest are chosen), then those customers."""
    q = customer_search_q(text)
    if len(text.strip()) >= 15:
        q |= Q(tax_number=text.strip().upper())
    ids = list(
        customers_visible_to(user)
        .active()
        .filter(q)
        .select_related(None)
        .order_by("-created_at", "-pk")
        .values_list("pk", flat=True)[:limit]
    )
    found = Customer.objects.select_related("owner").in_bulk(ids)
    return [
        {
            "title": c.name,
            "subtitle": f"{c.number} · {c.get_status_display()} · {c.owner or '—'}",
            "url": c.get_absolute_url(),
        }
        for c in (found[pk] for pk in ids)
    ]
