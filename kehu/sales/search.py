from django.db.models import Q

from .selectors import opportunities_visible_to


def search_opportunities(user, text, limit):
    """Number, summary, the customer's or the prospect's name."""
    text = (text or "").strip()
    if not text:
        return []
    q = (
        Q(number__iexact=text)
        | Q(summary__icontains=text)
        | Q(prospect_name__icontains=text)
        | Q(customer__name__icontains=text)
    )
    return [
        {
            "title": f"{o.number} {o.summary}",
            "subtitle": f"{o.company} · {o.get_status_display()} · {o.stage}",
            "url": o.get_absolute_url(),
        }
        for o in opportunities_visible_to(user).active().filter(q)[:limit]
    ]
