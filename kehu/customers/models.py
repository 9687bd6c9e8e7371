"""客户管理: customers (cst_customer), contacts (cst_linkman), activities (cst_activity), field
visits, shares, documents and churn cases (cst_lost).  Workflow lives in services.py."""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from kehu.core.models import SparselyArchivable, dict_fk, set_only_indexes

USER = settings.AUTH_USER_MODEL


def month_day(d) -> int | None:
    """A birthday as month × 100 + day (1123 for 23 November): indexable for "birthdays this week"."""
    return d.month * 100 + d.day if d else None


_SHARES_IN_SQL: ContextVar[bool] = ContextVar("kehu_shares_in_sql", default=False)


def shared_customer_ids(user):
    """The ids of the customers shared with ``user``, read as a list (each branch of a list's scope
    can then use an index); inside :func:`shares_in_sql`, a subquery instead (one round trip less
    for a single-statement lookup such as caller ID)."""
    ids = CustomerShare.objects.filter(user=user).values_list("customer_id", flat=True)
    return ids if _SHARES_IN_SQL.get() else list(ids)


@contextmanager
def shares_in_sql():
    token = _SHARES_IN_SQL.set(True)
    try:
        yield
    finally:
        _SHARES_IN_SQL.reset(token)


class Customer(SparselyArchivable):
    class Kind(models.TextChoices):
        COMPANY = "company", _("Company")
        INDIVIDUAL = "individual", _("Individual")

    class Status(models.TextChoices):
        PROSPECT = "prospect", _("Prospect")
        SIGNED = "signed", _("Signed")
        DORMANT = "dormant", _("Dormant")
        LOST = "lost", _("Lost")

    class Stage(models.IntegerChoices):
        FIRST_CONTACT = 1, _("Initial contact, interested")
        NEEDS_CLEAR = 2, _("Needs understood")
        KNOWS_PRODUCT = 3, _("Knows the product well")
        MET = 4, _("Met in person")
        READY = 5, _("No objections, ready to sign")
        WON = 6, _("Deal signed")

    number = models.CharField(_("customer number"), max_length=30)
    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices, default=Kind.COMPANY)
    name = models.CharField(_("name"), max_length=120)
    short_name = models.CharField(_("short name"), max_length=60, blank=True)
    name_key = models.CharField(_("normalised name"), max_length=120, editable=False)
    pinyin = models.CharField(_("pinyin initials"), max_length=60, editable=False)
    pinyin_short = models.CharField(max_length=60, blank=True, editable=False)
    level = dict_fk("customer_level", _("level"), db_index=False)
    region = dict_fk("region", _("region"), db_index=False)
    industry = dict_fk("industry", _("industry"), db_index=False)
    source = dict_fk("customer_source", _("source"), db_index=False)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PROSPECT)
    stage = models.PositiveSmallIntegerField(_("intent stage"), choices=Stage.choices, null=True, blank=True)
    credit_rating = models.PositiveSmallIntegerField(_("credit rating"), null=True, blank=True)
    satisfaction = models.PositiveSmallIntegerField(_("satisfaction"), null=True, blank=True)
    owner = models.ForeignKey(
        USER,
        verbose_name=_("owner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="customers",
        db_index=False,  # the (owner, status) index serves it
    )
    address = models.CharField(_("address"), max_length=200, blank=True)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    phone_key = models.CharField(_("normalised phone"), max_length=20, blank=True, editable=False)
    fax = models.CharField(_("fax"), max_length=40, blank=True)
    website = models.CharField(_("website"), max_length=200, blank=True)
    postcode = models.CharField(_("postcode"), max_length=10, blank=True)
    legal_representative = models.CharField(_("legal representative"), max_length=40, blank=True)
    registered_capital = models.DecimalField(
        _("registered capital (10k yuan)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    annual_revenue = models.DecimalField(
        _("annual revenue (10k yuan)"), max_digits=14, decimal_places=2, null=True, blank=True
    )
    bank = models.CharField(_("bank"), max_length=100, blank=True)
    bank_account = models.CharField(_("bank account"), max_length=40, blank=True)
    tax_number = models.CharField(_("tax number"), max_length=30, blank=True)
    opening_receivable = models.DecimalField(
        _("opening receivable"), max_digits=14, decimal_places=2, default=0
    )
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    birthday_md = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)  # set_only_indexes
    tags = models.ManyToManyField("Tag", verbose_name=_("tags"), blank=True, related_name="customers")
    notes = models.TextField(_("notes"), blank=True)
    last_activity_at = models.DateTimeField(_("last contact"), null=True, blank=True, db_index=True)
    last_order_at = models.DateTimeField(_("last order"), null=True, blank=True)
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    released_at = models.DateTimeField(_("released to the pool at"), null=True, blank=True)
    release_reason = models.CharField(_("why it was released"), max_length=200, blank=True)
    created_by = models.ForeignKey(
        USER,
        verbose_name=_("created by"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    scope_owner_field = "owner"

    class Meta:
        verbose_name = _("customer")
        verbose_name_plural = _("customers")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(credit_rating__isnull=True) | Q(credit_rating__gte=1, credit_rating__lte=5),
                name="cst_customer_credit_1_5",
            ),
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="cst_customer_satisfaction_1_5",
            ),
            models.CheckConstraint(condition=~Q(name=""), name="cst_customer_name_not_empty"),
            models.UniqueConstraint(
                fields=["number"],
                name="cst_customer_number_uniq",
                violation_error_message=_("A customer with this number already exists."),
            ),
        ]
        # Kept lean: every index costs each insert (imports of 100,000 rows).  Plain indexes rather
        # than db_index/unique=True, which on PostgreSQL add a second ``varchar_pattern_ops`` index to
        # every CharField; the prefix searches on the pinyin initials and the name search have their
        # own indexes in migrations 0002, 0004 and 0005 (see docs/decisions.md).
        indexes = [
            models.Index(fields=["owner", "status"]),
            models.Index(fields=["status", "last_activity_at"]),
            models.Index(fields=["name_key"], name="cst_customer_name_key"),
            models.Index(fields=["phone_key"], name="cst_customer_phone_key"),
            models.Index(fields=["tax_number"], name="cst_customer_tax_number"),
            # archived customers, their archivers and birthdays: few rows (decision z)
            *set_only_indexes("cst_customer", "archived_at", "archived_by", "birthday_md"),
        ]
        db_table = "cst_customer"

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self):
        return reverse("customers:detail", args=[self.pk])

    @staticmethod
    def scope_extra_q(user):
        """Also visible: customers shared with the user, and the public pool (no owner).  The shares
        are read first, as a list, so that every branch of the scope can use an index."""
        return Q(owner__isnull=True) | Q(pk__in=shared_customer_ids(user))

    @property
    def in_pool(self) -> bool:
        return self.owner_id is None


class Tag(models.Model):
    cache_choices = True  # choice lists of tags are cached (kehu.core.choices)

    name = models.CharField(_("name"), max_length=30, unique=True)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["name"]
        db_table = "cst_tag"

    def __str__(self) -> str:
        return self.name


class CustomerShare(models.Model):
    """An owner shares a customer with a colleague, to read or to edit."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="shares")
    user = models.ForeignKey(USER, verbose_name=_("colleague"), on_delete=models.CASCADE, related_name="+")
    can_edit = models.BooleanField(_("may edit"), default=False)
    shared_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    shared_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("share")
        verbose_name_plural = _("shares")
        db_table = "cst_share"
        constraints = [models.UniqueConstraint(fields=["customer", "user"], name="cst_share_uniq")]

    def __str__(self) -> str:
        return f"{self.customer} → {self.user}"


class PoolClaim(models.Model):
    """One claim from the public pool: counts against the user's daily limit."""

    user = models.ForeignKey(USER, on_delete=models.CASCADE, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="pool_claims")
    claimed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        db_table = "cst_pool_claim"
        ordering = ["-claimed_at"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.customer_id} {self.claimed_at:%Y-%m-%d}"


class Contact(SparselyArchivable):
    class Gender(models.TextChoices):
        MALE = "m", _("Male")
        FEMALE = "f", _("Female")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="contacts"
    )
    name = models.CharField(_("name"), max_length=40)
    gender = models.CharField(_("gender"), max_length=1, choices=Gender.choices, blank=True)
    title = models.CharField(_("title"), max_length=40, blank=True)
    mobile = models.CharField(_("mobile"), max_length=40, blank=True)
    mobile_key = models.CharField(max_length=20, blank=True, editable=False)
    phone = models.CharField(_("phone"), max_length=40, blank=True)
    phone_key = models.CharField(max_length=20, blank=True, editable=False)
    email = models.EmailField(_("e-mail"), blank=True)
    wechat = models.CharField(_("WeChat"), max_length=40, blank=True)
    birthday = models.DateField(_("birthday"), null=True, blank=True)
    birthday_md = models.PositiveSmallIntegerField(null=True, blank=True, editable=False)  # set_only_indexes
    is_primary = models.BooleanField(_("primary contact"), default=False)
    notes = models.TextField(_("notes"), blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    scope_owner_field = "customer__owner"

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        ordering = ["-is_primary", "name"]
        db_table = "cst_linkman"
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(is_primary=True, archived_at__isnull=True),
                name="cst_linkman_one_primary",
            )
        ]
        indexes = [
            models.Index(fields=["mobile_key"], name="cst_linkman_mobile_key"),
            models.Index(fields=["phone_key"], name="cst_linkman_phone_key"),
            *set_only_indexes("cst_linkman", "archived_at", "archived_by", "birthday_md"),
        ]

    def __str__(self) -> str:
        return self.name

    @staticmethod
    def scope_extra_q(user):
        return Q(customer__owner__isnull=True) | Q(customer_id__in=shared_customer_ids(user))


class Activity(models.Model):
    """联系记录: a visit, call, e-mail or message with a customer, and the next step."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="activities"
    )
    contact = models.ForeignKey(
        Contact,
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="activities",
    )
    kind = dict_fk("activity_type", _("type"), null=False, blank=False)
    happened_at = models.DateTimeField(_("date"), db_index=True)
    place = models.CharField(_("place"), max_length=100, blank=True)
    subject = models.CharField(_("subject"), max_length=120)
    summary = models.TextField(_("summary"), blank=True)
    next_follow_up = models.DateField(_("next follow-up"), null=True, blank=True, db_index=True)
    author = models.ForeignKey(
        USER, verbose_name=_("recorded by"), on_delete=models.PROTECT, related_name="+"
    )
    comment = models.TextField(_("supervisor's comment"), blank=True)
    commented_by = models.ForeignKey(
        USER,
        verbose_name=_("commented by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    commented_at = models.DateTimeField(_("commented at"), null=True, blank=True)
    comment_read_at = models.DateTimeField(_("comment read at"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    scope_owner_field = "customer__owner"

    class Meta:
        verbose_name = _("activity")
        verbose_name_plural = _("activities")
        ordering = ["-happened_at", "-pk"]
        db_table = "cst_activity"
        indexes = [models.Index(fields=["customer", "-happened_at"])]

    def __str__(self) -> str:
        return self.subject

    @staticmethod
    def scope_extra_q(user):
        return Q(author=user) | Q(customer_id__in=shared_customer_ids(user))


class FieldVisit(models.Model):
    """外出登记: a planned visit, by week; done when its activity is recorded."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    user = models.ForeignKey(USER, verbose_name=_("who"), on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="field_visits"
    )
    planned_on = models.DateField(_("planned for"), db_index=True)
    purpose = models.CharField(_("purpose"), max_length=200)
    place = models.CharField(_("place"), max_length=100, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PLANNED)
    activity = models.OneToOneField(
        Activity,
        verbose_name=_("activity"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="field_visit",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    scope_owner_field = "user"

    class Meta:
        verbose_name = _("field visit")
        verbose_name_plural = _("field visits")
        ordering = ["planned_on", "pk"]
        db_table = "cst_field_visit"

    def __str__(self) -> str:
        return f"{self.planned_on} {self.customer}"


def document_path(instance, filename):
    return f"customers/{instance.customer_id}/{filename}"


class CustomerDocument(models.Model):
    """文档管理: files kept with a customer (contracts, business licences, drawings…)."""

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="documents"
    )
    file = models.FileField(_("file"), upload_to=document_path, max_length=300)
    name = models.CharField(_("name"), max_length=200)
    size = models.PositiveBigIntegerField(_("size"), default=0)
    uploaded_by = models.ForeignKey(
        USER, verbose_name=_("uploaded by"), null=True, on_delete=models.SET_NULL, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-uploaded_at"]
        db_table = "cst_document"

    def __str__(self) -> str:
        return self.name


class ChurnCase(models.Model):
    """客户流失 (cst_lost): opened by the daily check; the owner defers it with measures or confirms it."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DEFERRED = "deferred", _("Deferred")
        CONFIRMED = "confirmed", _("Confirmed lost")
        RECOVERED = "recovered", _("Recovered")

    customer = models.ForeignKey(
        Customer, verbose_name=_("customer"), on_delete=models.PROTECT, related_name="churn_cases"
    )
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.OPEN)
    last_order_at = models.DateTimeField(_("last order or contact"), null=True, blank=True)
    opened_at = models.DateTimeField(_("opened at"), auto_now_add=True)
    reason = dict_fk("lost_reason", _("lost reason"))
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True)
    closed_by = models.ForeignKey(
        USER, verbose_name=_("closed by"), null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    scope_owner_field = "customer__owner"

    class Meta:
        verbose_name = _("churn case")
        verbose_name_plural = _("churn cases")
        ordering = ["-opened_at"]
        db_table = "cst_lost"
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(status__in=["open", "deferred"]),
                name="cst_lost_one_open_per_customer",
            )
        ]

    def __str__(self) -> str:
        return f"{self.customer} ({self.get_status_display()})"


class ChurnMeasure(models.Model):
    """暂缓流失: what the owner does to keep the customer, with a follow-up date."""

    case = models.ForeignKey(ChurnCase, on_delete=models.CASCADE, related_name="measures")
    measure = models.TextField(_("measure"))
    follow_up_on = models.DateField(_("follow up on"), null=True, blank=True)
    outcome = models.TextField(_("outcome"), blank=True)
    author = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("churn measure")
        verbose_name_plural = _("churn measures")
        ordering = ["created_at"]
        db_table = "cst_lost_measure"

    def __str__(self) -> str:
        return self.measure[:40]
