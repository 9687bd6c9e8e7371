"""Reads: customers and their parts, already limited to what the user may see."""

from __future__ import annotations

from django.db import connection
from django.db.models import Count, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from kehu.accounts.models import User
from kehu.core.models import DictEntry
from kehu.core.scopes import scope_basis, scope_q, visible_to

from .models import (
    Activity,
    ChurnCase,
    Contact,
    Customer,
    CustomerDocument,
    CustomerShare,
    FieldVisit,
    shares_in_sql,
)
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


# --- caller ID --------------------------------------------------------------------------------
#
# The lookup answers every incoming call, so it reads only the columns a card shows, in three
# statements written here (contacts with the number; the customers in scope; their latest
# activities) rather than through the ORM's query compiler, which costs more than the queries.
# The scope is still the one rule of kehu.core.scopes: its condition is compiled by the ORM.

_USER_COLUMNS = ("username", "first_name", "last_name", "full_name")
_DICT_COLUMNS = ("type", "code", "label_zh", "label_en")
_CARD_CUSTOMER = ("number", "name", "short_name", "status", "level_id", "phone", "address", "owner_id",
                  "last_activity_at")  # fmt: skip
_CARD_CONTACT = ("customer_id", "name", "title", "mobile", "phone", "email", "is_primary")
_CARD_ACTIVITY = ("customer_id", "kind_id", "happened_at", "subject", "summary", "next_follow_up",
                  "author_id")  # fmt: skip


def _columns(model, wanted) -> str:
    """``table.column`` for the primary key and ``wanted`` attnames, in the model's field order
    (what a raw query's instances are built from)."""
    table = model._meta.db_table
    names = [f.column for f in model._meta.concrete_fields if f.primary_key or f.attname in wanted]
    return ", ".join(f"{table}.{c}" for c in names)


def _joined(alias: str, columns) -> str:
    return ", ".join(f"{alias}.{c} AS {alias}_{c}" for c in columns)


def _attach(obj, field: str, model, alias: str, columns) -> None:
    """Give ``obj`` the related object whose columns the raw query read as ``<alias>_<column>``."""
    fk = obj._meta.get_field(field)
    pk = getattr(obj, fk.attname)
    related = None
    if pk is not None:
        related = model.from_db(
            None, ["id", *columns], [pk, *(getattr(obj, f"{alias}_{c}") for c in columns)]
        )
    fk.set_cached_value(obj, related)


_SCOPE_SQL: dict = {}  # (user, scope basis, database) -> the scope as SQL; see _scope_where
_JOINED = object()


def _scope_where(user) -> tuple[str, list] | None:
    """The user's customer scope as SQL on ``cst_customer`` ('' for everything), or None when the
    scope needs a join (then the caller uses the ORM).  Building and compiling the filter costs
    more than the caller-ID queries themselves, so the SQL is kept per process under what it was
    built from (:func:`~kehu.core.scopes.scope_basis`: the scope and the people it covers, which
    follow every change to the users and departments); the shares are a subquery of it."""
    key = (user.pk, scope_basis(user, Customer), connection.vendor)
    found = _SCOPE_SQL.get(key)
    if found is None:
        with shares_in_sql():  # the shares as a subquery of this statement, not a query of their own
            q = scope_q(user, Customer)
        if q is None:
            found = ("", ())
        else:
            query = Customer.objects.filter(q).query
            compiler = query.get_compiler(connection=connection)
            sql, params = compiler.compile(query.where)
            if sum(1 for n in query.alias_refcount.values() if n) > 1:
                found = _JOINED
            else:
                found = (f" AND ({sql})", tuple(params))
        if len(_SCOPE_SQL) >= 2000:
            _SCOPE_SQL.clear()
        _SCOPE_SQL[key] = found
    if found is _JOINED:
        return None
    return found[0], list(found[1])


def _in(values) -> str:
    return ", ".join(["%s"] * len(values))


def caller_id_lookup(user, number: str, *, limit: int = 10, activities: int = 5) -> dict:
    """来电弹屏: who is calling?  ``number`` as typed or as the phone system sends it (+86, 0086,
    spaces, dashes, brackets, extensions).  Returns plain dicts::

        {"number": "<normalised digits, '' when it is not a phone number>",
         "matches": [{"customer": Customer, "contact": Contact | None, "activities": [Activity, ...]}]}

    Only active customers the user may see match (their own, shared with them, the public pool; a
    supervisor's department; everything for "all"), by the customer's phone or an active contact's
    mobile or phone.  ``contact`` is the contact whose number matched (None when the company line
    matched); ``activities`` are the latest ones the user may see, newest first.  The instances
    carry only what a card shows (other fields load on access).  Two queries, whatever the number
    of matches (at most ``limit``)."""
    key = normalize_phone(number)
    if not key:
        return {"number": "", "matches": []}
    ct_table, c_table, a_table = Contact._meta.db_table, Customer._meta.db_table, Activity._meta.db_table
    # One statement: the customers with this number on their company line or on an active contact's
    # mobile or phone (``id IN (… UNION ALL …)``, each branch an index), with their level, owner
    # and the contact to show (the one whose number matched: primary first, then by name).
    ct_cols = [f.column for f in Contact._meta.concrete_fields if f.attname in _CARD_CONTACT]
    found = (
        f"SELECT id FROM {c_table} WHERE phone_key = %s UNION ALL SELECT customer_id FROM {ct_table} "
        f"WHERE archived_at IS NULL AND (mobile_key = %s OR phone_key = %s)"
    )
    best_contact = (
        f"SELECT x.id FROM {ct_table} x WHERE x.customer_id = {c_table}.id AND x.archived_at IS NULL "
        f"AND (x.mobile_key = %s OR x.phone_key = %s) ORDER BY x.is_primary DESC, x.name, x.id LIMIT 1"
    )
    scope = _scope_where(user)
    if scope is None:  # pragma: no cover - a scope rule with a join: the ORM gives the ids
        by_contact = Contact.objects.filter(Q(mobile_key=key) | Q(phone_key=key)).values("customer_id")
        ids = list(
            visible_to(Customer.objects.all(), user)
            .filter(Q(phone_key=key) | Q(pk__in=by_contact))
            .values_list("pk", flat=True)
        )
        scope = (f" AND {c_table}.id IN ({_in(ids) or 'NULL'})", ids)
    scope_sql, scope_params = scope
    customers = list(
        Customer.objects.raw(
            f"SELECT {_columns(Customer, _CARD_CUSTOMER)}, {_joined('lv', _DICT_COLUMNS)}, "
            f"{_joined('ow', _USER_COLUMNS)}, ct.id AS ct_id, {_joined('ct', ct_cols)} FROM {c_table} "
            f"LEFT JOIN {DictEntry._meta.db_table} lv ON lv.id = {c_table}.level_id "
            f"LEFT JOIN {User._meta.db_table} ow ON ow.id = {c_table}.owner_id "
            f"LEFT JOIN {ct_table} ct ON ct.id = ({best_contact}) "
            f"WHERE {c_table}.archived_at IS NULL AND {c_table}.id IN ({found}){scope_sql} "
            f"ORDER BY {c_table}.last_activity_at DESC NULLS LAST, {c_table}.id LIMIT %s",
            [key, key, key, key, key, *scope_params, limit],
        )
    )
    by_customer: dict[int, Contact] = {}
    for c in customers:
        if c.ct_id is not None:
            by_customer[c.pk] = Contact.from_db(
                None, ["id", *ct_cols], [c.ct_id, *(getattr(c, f"ct_{col}") for col in ct_cols)]
            )
    if not customers:
        return {"number": key, "matches": []}
    for c in customers:
        _attach(c, "level", DictEntry, "lv", _DICT_COLUMNS)
        _attach(c, "owner", User, "ow", _USER_COLUMNS)
    ids = [c.pk for c in customers]
    # The activities the user may see of customers they see: all of them, except on a public-pool
    # customer, where only their own (the same rule as Activity's scope, without building that
    # scope and reading the user's shares a second time).  The latest of every match in one
    # query, numbered per customer by a window function.
    pool_ids = [c.pk for c in customers if c.owner_id is None]
    rule, rule_params = "", []
    if pool_ids:
        rule = f" AND ({a_table}.customer_id NOT IN ({_in(pool_ids)}) OR {a_table}.author_id = %s)"
        rule_params = [*pool_ids, user.pk]
    inner = (
        f"SELECT {_columns(Activity, _CARD_ACTIVITY)}, {_joined('kd', _DICT_COLUMNS)}, "
        f"{_joined('au', _USER_COLUMNS)}, ROW_NUMBER() OVER (PARTITION BY {a_table}.customer_id "
        f"ORDER BY {a_table}.happened_at DESC, {a_table}.id DESC) AS card_rank FROM {a_table} "
        f"LEFT JOIN {DictEntry._meta.db_table} kd ON kd.id = {a_table}.kind_id "
        f"LEFT JOIN {User._meta.db_table} au ON au.id = {a_table}.author_id "
        f"WHERE {a_table}.customer_id IN ({_in(ids)}){rule}"
    )
    recent: dict[int, list[Activity]] = {}
    for a in Activity.objects.raw(
        f"SELECT * FROM ({inner}) {a_table} WHERE card_rank <= %s ORDER BY customer_id, card_rank",
        [*ids, *rule_params, activities],
    ):
        _attach(a, "kind", DictEntry, "kd", _DICT_COLUMNS)
        _attach(a, "author", User, "au", _USER_COLUMNS)
        recent.setdefault(a.customer_id, []).append(a)
    matches = [
        {"customer": c, "contact": by_customer.get(c.pk), "activities": recent.get(c.pk, [])}
        for c in customers
    ]
    return {"number": key, "matches": matches}
