from django.db.models import Q

from .normalize import normalize_phone
from .selectors import customers_visible_to


def search_customers(user, text, limit):
    """Name, short name, pinyin initials (bjhx), number, phone or tax number."""
    q = Q(name__icontains=text) | Q(short_name__icontains=text) | Q(number__iexact=text)
    if text.isascii() and text.isalnum():
        q |= Q(pinyin__startswith=text.lower()) | Q(pinyin_short__startswith=text.lower())
    phone = normalize_phone(text)
    if phone:
        q |= Q(phone_key=phone) | Q(contacts__mobile_key=phone) | Q(contacts__phone_key=phone)
    if len(text) >= 15:
        q |= Q(tax_number=text.upper())
    qs = customers_visible_to(user).active().filter(q).distinct()[:limit]
    return [
        {
            "title": c.name,
            "subtitle": f"{c.number} · {c.get_status_display()} · {c.owner or '—'}",
            "url": c.get_absolute_url(),
        }
        for c in qs
    ]
