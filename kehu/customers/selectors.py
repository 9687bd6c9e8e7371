"""Reads: customers and their parts, already limited to what the user may see."""

from __future__ import annotations

from django.db.models import F, Prefetch, Q, QuerySet

from kehu.core.scopes import visible_to

from .models import Activity, ChurnCase, Contact, Customer, CustomerDocument, CustomerShare, FieldVisit
from .normalize import normalize_phone


def customers_visible_to(user) -> QuerySet[Customer]:
    return visible_to(Customer.objects.all(), user).select_related(
        "owner", "level", "region", "industry", "source"
    )


def contacts_visible_to(user) -> QuerySet[Contact]:
    return visible_to(Contact.objects.all(), user).select_related("customer", "customer__owner")


def activities_visible_to(user) -> QuerySet[Activity]:
    return visible_to(Activity.objects.all(), user).select_related(
        "customer", "contact", "kind", "author", "commented_by"
    )


def visits_visible_to(user) -> QuerySet[FieldVisit]:
    return visible_to(FieldVisit.objects.all(), user).select_related("customer", "user", "activity")


def churn_cases_visible_to(user) -> QuerySet[ChurnCase]:
    return visible_to(ChurnCase.objects.all(), user).select_related("customer", "customer__owner", "reason")


def pool_customers() -> QuerySet[Customer]:
    return Customer.objects.active().filter(owner__isnull=True).select_related("level", "region", "industry")


def customer_360(user, pk: int) -> Customer:
    """One customer with everything its 360 page shows, in a fixed number of queries."""
    from django.http import Http404

    qs = customers_visible_to(user).prefetch_related(
        "tags",
        Prefetch("contacts", queryset=Contact.objects.active().order_by("-is_primary", "name")),
        Prefetch(
            "activities",
            queryset=Activity.objects.select_related("kind", "contact", "author", "commented_by").order_by(
                "-happened_at", "-pk"
            ),
        ),
        Prefetch("documents", queryset=CustomerDocument.objects.select_related("uploaded_by")),
        Prefetch("shares", queryset=CustomerShare.objects.select_related("user")),
        Prefetch("field_visits", queryset=FieldVisit.objects.select_related("user").order_by("-planned_on")),
        Prefetch(
            "churn_cases", queryset=ChurnCase.objects.select_related("reason").prefetch_related("measures")
        ),
    )
    try:
        return qs.get(pk=pk)
    except (Customer.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404 from exc


def caller_id_lookup(user, number: str, *, limit: int = 10, activities: int = 5) -> dict:
    """来电弹屏: who is calling?  ``number`` as typed or as the phone system sends it (+86, 0086,
    spaces, dashes, brackets, extensions).  Returns plain dicts::

        {"number": "<normalised digits, '' when it is not a phone number>",
         "matches": [{"customer": Customer, "contact": Contact | None, "activities": [Activity, ...]}]}

    Only active customers the user may see match (their own, shared with them, the public pool; a
    supervisor's department; everything for "all"), by the customer's phone or an active contact's
    mobile or phone.  ``contact`` is the contact whose number matched (None when the company line
    matched); ``activities`` are the latest ones the user may see, newest first.  The query count is
    fixed per match (at most ``limit`` matches)."""
    key = normalize_phone(number)
    if not key:
        return {"number": "", "matches": []}
    contacts = Contact.objects.active().filter(Q(mobile_key=key) | Q(phone_key=key))
    customers = list(
        customers_visible_to(user)
        .active()
        .filter(Q(phone_key=key) | Q(pk__in=contacts.values("customer_id")))
        .order_by(F("last_activity_at").desc(nulls_last=True), "pk")[:limit]
    )
    matched = contacts.filter(customer_id__in=[c.pk for c in customers]).order_by("-is_primary", "name", "pk")
    by_customer: dict[int, Contact] = {}
    for ct in matched:
        by_customer.setdefault(ct.customer_id, ct)
    recent = activities_visible_to(user).order_by("-happened_at", "-pk")
    matches = [
        {
            "customer": c,
            "contact": by_customer.get(c.pk),
            "activities": list(recent.filter(customer=c)[:activities]),
        }
        for c in customers
    ]
    return {"number": key, "matches": matches}
