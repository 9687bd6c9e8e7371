"""Reads: customers and their parts, already limited to what the user may see."""

from __future__ import annotations

from django.db.models import Count, F, OuterRef, Prefetch, Q, QuerySet, Subquery, Window
from django.db.models.functions import Coalesce, RowNumber

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


def customer_360(user, pk: int, *, timeline: int = 100) -> Customer:
    """One customer with everything its 360 page shows, in a fixed number of queries: the latest
    ``timeline`` activities (``activity_total`` counts them all)."""
    from django.http import Http404

    qs = customers_visible_to(user).prefetch_related(
        "tags",
        Prefetch("contacts", queryset=Contact.objects.active().order_by("-is_primary", "name")),
        Prefetch(
            "activities",
            queryset=Activity.objects.select_related("kind", "contact", "author", "commented_by").order_by(
                "-happened_at", "-pk"
            )[:timeline],
            to_attr="recent_activities",  # a sliced prefetch needs its own attribute
        ),
        Prefetch("documents", queryset=CustomerDocument.objects.select_related("uploaded_by")),
        Prefetch("shares", queryset=CustomerShare.objects.select_related("user")),
        Prefetch("field_visits", queryset=FieldVisit.objects.select_related("user").order_by("-planned_on")),
        Prefetch(
            "churn_cases", queryset=ChurnCase.objects.select_related("reason").prefetch_related("measures")
        ),
    )
    total = (
        Activity.objects.filter(customer=OuterRef("pk")).order_by().values("customer").annotate(n=Count("pk"))
    )
    qs = qs.annotate(activity_total=Coalesce(Subquery(total.values("n")), 0))
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
    # The contacts with this number first (a few rows from an index): they give the customers to
    # look for and, per customer, the contact to show (primary first, then by name).
    by_customer: dict[int, Contact] = {}
    for ct in (
        Contact.objects.active()
        .filter(Q(mobile_key=key) | Q(phone_key=key))
        .order_by("-is_primary", "name", "pk")[:1000]
    ):
        by_customer.setdefault(ct.customer_id, ct)
    customers = list(
        customers_visible_to(user)
        .active()
        .filter(Q(phone_key=key) | Q(pk__in=list(by_customer)))
        .order_by(F("last_activity_at").desc(nulls_last=True), "pk")[:limit]
    )
    if not customers:
        return {"number": key, "matches": []}
    ids = [c.pk for c in customers]
    # The activities the user may see of customers they see: all of them, except on a public-pool
    # customer, where only their own (the same rule as Activity's scope, without building that
    # scope and reading the user's shares a second time).
    visible = Activity.objects.select_related("kind", "contact", "author", "commented_by").order_by(
        "-happened_at", "-pk"
    )
    pool_ids = [c.pk for c in customers if c.owner_id is None]
    if pool_ids:
        visible = visible.filter(~Q(customer_id__in=pool_ids) | Q(author=user))
    recent: dict[int, list[Activity]] = {}
    if len(ids) == 1:  # the usual case: one caller, one customer
        recent[ids[0]] = list(visible.filter(customer_id=ids[0])[:activities])
    else:  # the latest of every match in one query, numbered per customer by a window function
        ranked = visible.filter(customer_id__in=ids).annotate(
            rank=Window(
                RowNumber(),
                partition_by=[F("customer_id")],
                order_by=[F("happened_at").desc(), F("pk").desc()],
            )
        )
        for a in ranked.filter(rank__lte=activities).order_by("customer_id", "rank"):
            recent.setdefault(a.customer_id, []).append(a)
    matches = [
        {"customer": c, "contact": by_customer.get(c.pk), "activities": recent.get(c.pk, [])}
        for c in customers
    ]
    return {"number": key, "matches": matches}
