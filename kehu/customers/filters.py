"""Filters of the customer module's lists (django-filter).  Every filterset gets the request, so
choices (owners, authors) stay inside what the user may see."""

from __future__ import annotations

import time
from datetime import timedelta

import django_filters as df
from django import forms
from django.db import connection
from django.db.models import BooleanField, F, Func, Q, Value
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.filters import SearchLast, any_branch_q
from kehu.core.models import DictEntry

from .models import Activity, ChurnCase, Contact, Customer, FieldVisit, Tag
from .normalize import normalize_phone

DATE = forms.DateInput(attrs={"type": "date"})


def dict_filter(type_code: str, label) -> df.ModelChoiceFilter:
    return df.ModelChoiceFilter(
        label=label, queryset=DictEntry.objects.filter(type=type_code).order_by("order", "pk")
    )


def colleagues(user):
    """The users whose records ``user`` may see: themselves, their department's people for a
    supervisor, everybody for a user who sees all."""
    from kehu.accounts.models import User

    qs = User.objects.filter(is_active=True).order_by("username")
    if user is None or not user.is_authenticated:
        return qs.none()
    if user.data_scope == "all":
        return qs
    if user.data_scope == "department":
        return qs.filter(Q(pk=user.pk) | Q(department__in=user.scope_department_ids()))
    return qs.filter(pk=user.pk)


def people_choices(users) -> list[tuple[str, str]]:
    """``(pk, name)`` choices of a queryset of users, read as plain values (a choice list of a few
    hundred colleagues on every list page does not need their model instances) and cached
    (:mod:`kehu.core.choices`)."""
    from kehu.core.choices import cached_choices
    from kehu.core.widgets import model_choices

    return cached_choices(users, lambda: model_choices(users))


class NameGramsContain(Func):
    """PostgreSQL: ``kehu_name_grams(name, short_name) @> kehu_name_grams(<text>, '')``, true when
    every two-character piece of the text occurs in the name or the short name.  A GIN index on the
    left side (migration 0005) answers it, also for two-character Chinese terms that a trigram index
    cannot serve; the ``LIKE`` beside it then checks the rows it found."""

    function = "kehu_name_grams"
    output_field = BooleanField()
    conditional = True

    def __init__(self, name, short_name, text: str):
        super().__init__(name, short_name, Value(text))

    def as_sql(self, compiler, connection, **extra):
        name, short, text = (compiler.compile(e) for e in self.get_source_expressions())
        sql = f"kehu_name_grams({name[0]}, {short[0]}) @> kehu_name_grams({text[0]}, '')"
        return sql, (*name[1], *short[1], *text[1])


def name_contains_q(value: str, prefix: str = "", *, pieces: bool = True) -> Q:
    """Name or short name contains ``value`` (any case); on PostgreSQL behind the name pieces'
    condition, which its index answers (``pieces=False``: without it, to check rows one by one)."""
    p = prefix
    q = Q(**{f"{p}name__icontains": value}) | Q(**{f"{p}short_name__icontains": value})
    if pieces and connection.vendor == "postgresql" and len(value) >= 2:
        q = Q(NameGramsContain(F(f"{p}name"), F(f"{p}short_name"), value)) & q
    return q


def customer_search_q(value: str, prefix: str = "", *, within=None) -> Q:
    """One box: name or short name contains, number is, pinyin initials start with, or the phone
    number (any spelling: +86, dashes, spaces) is the customer's or one of its contacts'.  Every
    branch can use an index: the number is compared as stored (numbers are upper case), the
    contacts' customers are read first as a list.

    On PostgreSQL the branches become one ``id IN (… UNION ALL …)``: each branch alone is a plain
    indexed condition, whereas inside one OR the database re-checks the whole expression on every
    row the indexes found, computing the name pieces again for each (three times the work on a
    common term such as 华夏)."""
    value = (value or "").strip()
    if not value:
        return Q()
    if connection.vendor == "postgresql":
        broad = customer_search_walk(value, prefix)
        if broad is not None:
            # most customers match: one condition that the rows read in the caller's order are
            # checked against, found after a few (the branches would read and check them all)
            return broad
        # ``within``: the customers being searched (a list's scoped queryset); each branch then
        # carries their conditions too, so that it can combine its index with the scope's
        base = Customer.objects.all() if within is None else within
        return any_branch_q(base, _search_branches(value, ""), prefix)
    q = Q()
    for b in _search_branches(value, prefix):
        q |= b
    return q


def customer_search_branches(value: str) -> list[Q] | None:
    """The conditions of :func:`customer_search_q`, any of which makes a match (None: no search)."""
    value = (value or "").strip()
    return _search_branches(value, "") if value else None


def customer_search_walk(value: str, prefix: str = "") -> Q | None:
    """For a term that most customers match, the search as one condition to check row by row while
    reading the list in its order (``CappedPaginator``); None for the others.  Such terms are one
    character (华, b) or made of name pieces that PostgreSQL's statistics find in at least one name
    in twenty (公司, 科技): through the indexes, all their matches would be read and sorted for one
    page, the pieces computed again for each (seconds on a million customers); in list order, the
    first thousand come within the first few thousand rows."""
    value = (value or "").strip()
    if not value:
        return None
    pinyin_initial = len(value) == 1 and value.isascii() and value.isalpha()
    if not pinyin_initial and name_piece_share(value) < BROAD_SHARE:
        return None
    q = Q()
    for b in _search_branches(value, prefix, pieces=False):
        q |= b
    return q


BROAD_SHARE = 0.04  # 1,600 matches expected within the 40,000 rows a walk reads at most
_PIECE_STATS: dict = {}  # {"at": monotonic time, "freqs": {piece: share of the names}}
PIECE_STATS_SECONDS = 600


def name_piece_share(value: str) -> float:
    """The share of customers whose name holds every two-character piece of ``value``, as far as
    PostgreSQL's statistics of the name pieces' index tell (the share of its rarest piece among
    the most common ones; 0 when a piece is not among them, or off PostgreSQL); for a single
    character, the shares of the common pieces that hold it, added up.  The statistics are read
    once every ten minutes per process."""
    if connection.vendor != "postgresql" or not value:
        return 0.0
    now = time.monotonic()
    if not _PIECE_STATS or now - _PIECE_STATS["at"] > PIECE_STATS_SECONDS:
        with connection.cursor() as cur:
            cur.execute(
                "SELECT most_common_elems::text::text[], most_common_elem_freqs FROM pg_stats "
                "WHERE schemaname = current_schema() AND tablename = 'cst_customer_name_grams'"
            )
            row = cur.fetchone()
        elems, freqs = row if row and row[0] else ([], [])
        _PIECE_STATS.update(at=now, freqs=dict(zip(elems, freqs, strict=False)))
    upper = value.upper()
    freqs = _PIECE_STATS["freqs"]
    if len(upper) == 1:
        return min(1.0, sum(f for piece, f in freqs.items() if upper in piece))
    return min(freqs.get(upper[i : i + 2], 0.0) for i in range(len(upper) - 1))


def _search_branches(value: str, p: str, *, pieces: bool = True) -> list[Q]:
    branches = [
        name_contains_q(value, p, pieces=pieces),
        Q(**{f"{p}number__in": sorted({value, value.upper()})}),
    ]
    if value.isascii() and value.replace(" ", "").isalnum():
        initials = value.replace(" ", "").lower()
        branches += [
            Q(**{f"{p}pinyin__startswith": initials}),
            Q(**{f"{p}pinyin_short__startswith": initials}),
        ]
    phone = normalize_phone(value)
    if phone:
        branches.append(Q(**{f"{p}phone_key": phone}))
        contact_ids = contact_customer_ids(phone)
        if contact_ids:
            branches.append(Q(**{f"{p}pk__in": contact_ids}))
    return branches


def contact_customer_ids(phone_key: str) -> list[int]:
    """The customers one of whose active contacts has this (normalised) mobile or phone number."""
    contacts = Contact.objects.active().filter(Q(mobile_key=phone_key) | Q(phone_key=phone_key))
    return list(contacts.values_list("customer_id", flat=True).distinct()[:1000])


class ScopedFilterSet(df.FilterSet):
    """Owner/author choices limited to the people the user may see."""

    people_fields: tuple[str, ...] = ()

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for name in self.people_fields:
            if name in self.filters:
                self.filters[name].queryset = colleagues(self.request.user)


OWNER_ME = "me"
OWNER_POOL = "pool"


class CustomerFilter(SearchLast, df.FilterSet):
    q = df.CharFilter(label=_("Name, pinyin, number or phone"), method="search")
    status = df.ChoiceFilter(label=_("Status"), choices=Customer.Status.choices)
    level = dict_filter("customer_level", _("Level"))
    region = dict_filter("region", _("Region"))
    industry = dict_filter("industry", _("Industry"))
    owner = df.ChoiceFilter(label=_("Owner"), method="by_owner", empty_label=_("All (without the pool)"))
    tag = df.ModelChoiceFilter(label=_("Tag"), field_name="tags", queryset=Tag.objects.all())
    created_from = df.DateFilter(
        label=_("Created from"), field_name="created_at", lookup_expr="date__gte", widget=DATE
    )
    created_to = df.DateFilter(
        label=_("Created to"), field_name="created_at", lookup_expr="date__lte", widget=DATE
    )
    contact_from = df.DateFilter(
        label=_("Last contact from"), field_name="last_activity_at", lookup_expr="date__gte", widget=DATE
    )
    contact_to = df.DateFilter(
        label=_("Last contact to"), field_name="last_activity_at", lookup_expr="date__lte", widget=DATE
    )

    class Meta:
        model = Customer
        fields: list[str] = []

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [(OWNER_ME, _("Me")), (OWNER_POOL, _("Public pool"))]
        choices += people_choices(colleagues(self.request.user))
        self.filters["owner"].extra["choices"] = choices

    def filter_queryset(self, queryset):
        qs = super().filter_queryset(queryset)
        if not self.form.cleaned_data.get("owner"):
            qs = qs.filter(owner__isnull=False)  # the pool has its own page
        return qs

    def search_branches(self, value):
        return customer_search_branches(value)

    def search_walk(self, value):
        return customer_search_walk(value)

    def by_owner(self, qs, name, value):
        if value == OWNER_ME:
            return qs.filter(owner=self.request.user)
        if value == OWNER_POOL:
            return qs.filter(owner__isnull=True)
        return qs.filter(owner_id=value)


class PoolFilter(SearchLast, df.FilterSet):
    q = df.CharFilter(label=_("Name, pinyin, number or phone"), method="search")
    status = df.ChoiceFilter(label=_("Status"), choices=Customer.Status.choices)
    level = dict_filter("customer_level", _("Level"))
    region = dict_filter("region", _("Region"))
    industry = dict_filter("industry", _("Industry"))
    released_from = df.DateFilter(
        label=_("Released from"), field_name="released_at", lookup_expr="date__gte", widget=DATE
    )

    class Meta:
        model = Customer
        fields: list[str] = []

    def search_branches(self, value):
        return customer_search_branches(value)

    def search_walk(self, value):
        return customer_search_walk(value)


class ContactFilter(df.FilterSet):
    q = df.CharFilter(label=_("Name, phone or e-mail"), method="search")
    customer = df.CharFilter(label=_("Customer"), method="by_customer")
    birthday_month = df.ChoiceFilter(
        label=_("Birthday in"),
        field_name="birthday",
        lookup_expr="month",
        choices=[(m, str(m)) for m in range(1, 13)],
    )

    class Meta:
        model = Contact
        fields: list[str] = []

    def search(self, qs, name, value):
        q = Q(name__icontains=value) | Q(email__icontains=value) | Q(wechat__icontains=value)
        phone = normalize_phone(value)
        if phone:
            q |= Q(mobile_key=phone) | Q(phone_key=phone)
        return qs.filter(q)

    def by_customer(self, qs, name, value):
        return qs.filter(customer_search_q(value, prefix="customer__"))


class ActivityFilter(ScopedFilterSet):
    people_fields = ("author",)

    customer = df.CharFilter(label=_("Customer"), method="by_customer")
    kind = dict_filter("activity_type", _("Type"))
    author = df.ModelChoiceFilter(label=_("Recorded by"), queryset=Activity.objects.none())
    since = df.DateFilter(label=_("From"), field_name="happened_at", lookup_expr="date__gte", widget=DATE)
    until = df.DateFilter(label=_("To"), field_name="happened_at", lookup_expr="date__lte", widget=DATE)
    unread = df.BooleanFilter(label=_("Unread comments only"), method="by_unread", widget=forms.CheckboxInput)
    commented = df.BooleanFilter(label=_("Commented only"), method="by_commented", widget=forms.CheckboxInput)

    class Meta:
        model = Activity
        fields: list[str] = []

    def by_customer(self, qs, name, value):
        return qs.filter(customer_search_q(value, prefix="customer__"))

    def by_unread(self, qs, name, value):
        return qs.filter(commented_at__isnull=False, comment_read_at__isnull=True) if value else qs

    def by_commented(self, qs, name, value):
        return qs.filter(commented_at__isnull=False) if value else qs


WEEK_CHOICES = [("last", _("Last week")), ("this", _("This week")), ("next", _("Next week"))]


def week_bounds(which: str, today=None):
    today = today or timezone.localdate()
    monday = today - timedelta(days=today.weekday())
    offset = {"last": -7, "this": 0, "next": 7}.get(which, 0)
    start = monday + timedelta(days=offset)
    return start, start + timedelta(days=6)


class VisitFilter(ScopedFilterSet):
    people_fields = ("user",)

    week = df.ChoiceFilter(label=_("Week"), choices=WEEK_CHOICES, method="by_week")
    since = df.DateFilter(label=_("From"), field_name="planned_on", lookup_expr="gte", widget=DATE)
    until = df.DateFilter(label=_("To"), field_name="planned_on", lookup_expr="lte", widget=DATE)
    user = df.ModelChoiceFilter(label=_("Who"), queryset=FieldVisit.objects.none())
    status = df.ChoiceFilter(label=_("Status"), choices=FieldVisit.Status.choices)
    customer = df.CharFilter(label=_("Customer"), method="by_customer")

    class Meta:
        model = FieldVisit
        fields: list[str] = []

    def by_week(self, qs, name, value):
        start, end = week_bounds(value)
        return qs.filter(planned_on__gte=start, planned_on__lte=end)

    def by_customer(self, qs, name, value):
        return qs.filter(customer_search_q(value, prefix="customer__"))


OPEN_STATUSES = "active"


class ChurnFilter(df.FilterSet):
    status = df.ChoiceFilter(
        label=_("Status"),
        choices=[(OPEN_STATUSES, _("Open or deferred")), *ChurnCase.Status.choices],
        method="by_status",
        empty_label=_("All"),
    )
    customer = df.CharFilter(label=_("Customer"), method="by_customer")
    since = df.DateFilter(
        label=_("Opened from"), field_name="opened_at", lookup_expr="date__gte", widget=DATE
    )

    class Meta:
        model = ChurnCase
        fields: list[str] = []

    def by_status(self, qs, name, value):
        if value == OPEN_STATUSES:
            return qs.filter(status__in=[ChurnCase.Status.OPEN, ChurnCase.Status.DEFERRED])
        return qs.filter(status=value)

    def by_customer(self, qs, name, value):
        return qs.filter(customer_search_q(value, prefix="customer__"))
