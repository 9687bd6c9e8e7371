"""营销管理: sales opportunities (sal_chance), their stage history, development plans (sal_plan),
configurable stages, campaigns, mass e-mail (mailings, recipients, unsubscribes).  Declarative
only: the workflow (who may do what, the status machine) lives in services.py."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from kehu.core.models import Archivable, dict_fk

USER = settings.AUTH_USER_MODEL


class Stage(models.Model):
    """A column of the pipeline (销售阶段), with its default success probability.  The stage marked
    ``is_won`` (成功签单) closes an opportunity as won when it is moved there."""

    order = models.PositiveSmallIntegerField(_("order"), default=10)
    name_zh = models.CharField(_("Chinese name"), max_length=40)
    name_en = models.CharField(_("English name"), max_length=60)
    probability = models.PositiveSmallIntegerField(_("default probability (%)"), default=10)
    enabled = models.BooleanField(_("enabled"), default=True)
    is_won = models.BooleanField(_("closes as won"), default=False)

    class Meta:
        verbose_name = _("stage")
        verbose_name_plural = _("stages")
        ordering = ["order", "pk"]
        db_table = "sal_stage"
        constraints = [
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=100), name="sal_stage_probability_0_100"
            ),
            models.UniqueConstraint(fields=["is_won"], condition=Q(is_won=True), name="sal_stage_one_won"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        lang = (get_language() or "zh-hans").lower()
        return self.name_zh if lang.startswith("zh") else self.name_en


class Opportunity(Archivable):
    """销售机会 (sal_chance)."""

    class Status(models.TextChoices):
        UNASSIGNED = "unassigned", _("Unassigned")
        ASSIGNED = "assigned", _("Developing")
        WON = "won", _("Won")
        LOST = "lost", _("Lost")

    OPEN = (Status.UNASSIGNED, Status.ASSIGNED)

    number = models.CharField(_("number"), max_length=30, unique=True)
    source = dict_fk("opportunity_source", _("source"))
    customer = models.ForeignKey(
        "customers.Customer",
        verbose_name=_("customer"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="opportunities",
    )
    prospect_name = models.CharField(_("company name"), max_length=120, blank=True)
    prospect_contact = models.CharField(_("contact"), max_length=40, blank=True)
    prospect_phone = models.CharField(_("contact phone"), max_length=40, blank=True)
    prospect_email = models.EmailField(_("contact e-mail"), blank=True)
    summary = models.CharField(_("summary"), max_length=200)
    probability = models.PositiveSmallIntegerField(_("success probability (%)"), default=10)
    description = models.TextField(_("description"), blank=True)
    amount = models.DecimalField(_("expected amount"), max_digits=14, decimal_places=2, default=0)
    expected_close = models.DateField(_("expected close date"), null=True, blank=True, db_index=True)
    stage = models.ForeignKey(
        Stage, verbose_name=_("stage"), on_delete=models.PROTECT, related_name="opportunities"
    )
    status = models.CharField(
        _("status"), max_length=12, choices=Status.choices, default=Status.UNASSIGNED, db_index=True
    )
    created_by = models.ForeignKey(
        USER, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True, db_index=True)
    department = models.ForeignKey(
        "accounts.Department",
        verbose_name=_("department"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    assignee = models.ForeignKey(
        USER,
        verbose_name=_("assigned to"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    assigned_at = models.DateTimeField(_("assigned at"), null=True, blank=True)
    assigned_by = models.ForeignKey(
        USER,
        verbose_name=_("assigned by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    stage_changed_at = models.DateTimeField(_("stage changed at"), null=True, blank=True)
    closed_at = models.DateTimeField(_("closed at"), null=True, blank=True, db_index=True)
    lost_reason = dict_fk("lost_reason", _("lost reason"))
    lost_note = models.TextField(_("why it was lost"), blank=True)
    campaign = models.ForeignKey(
        "Campaign",
        verbose_name=_("campaign"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="opportunities",
    )
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    # Own = created by me or assigned to me; a supervisor sees the department's (the department
    # is the creator's, then the assignee's at assignment).
    scope_owner_field = "created_by"
    scope_department_field = "department"

    class Meta:
        verbose_name = _("opportunity")
        verbose_name_plural = _("opportunities")
        ordering = ["-created_at", "-pk"]
        db_table = "sal_chance"
        constraints = [
            models.CheckConstraint(
                condition=Q(probability__gte=0, probability__lte=100), name="sal_chance_probability_0_100"
            ),
            models.CheckConstraint(condition=Q(amount__gte=0), name="sal_chance_amount_not_negative"),
            models.CheckConstraint(
                condition=Q(status="unassigned") | Q(assignee__isnull=False),
                name="sal_chance_assigned_has_assignee",
            ),
            models.CheckConstraint(
                condition=Q(customer__isnull=False) | ~Q(prospect_name="") | ~Q(prospect_contact=""),
                name="sal_chance_customer_or_prospect",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "stage"]),
            models.Index(fields=["assignee", "status"]),
            models.Index(fields=["created_by", "status"]),
            models.Index(fields=["department", "status"]),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.summary}"

    def get_absolute_url(self):
        return reverse("sales:detail", args=[self.pk])

    @staticmethod
    def scope_extra_q(user):
        return Q(assignee=user)

    @property
    def company(self) -> str:
        return self.customer.name if self.customer_id else self.prospect_name

    @property
    def owner(self):
        """Who works on it: the assignee, else the creator."""
        return self.assignee if self.assignee_id else self.created_by

    @property
    def is_open(self) -> bool:
        return self.status in self.OPEN

    @property
    def weighted(self):
        from kehu.sales.money import weighted

        return weighted(self.amount, self.probability)


class StageChange(models.Model):
    """The opportunity's history: every change of stage or status, who and when."""

    opportunity = models.ForeignKey(Opportunity, on_delete=models.CASCADE, related_name="stage_history")
    from_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    to_stage = models.ForeignKey(Stage, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    from_status = models.CharField(max_length=12, blank=True, choices=Opportunity.Status.choices)
    to_status = models.CharField(max_length=12, blank=True, choices=Opportunity.Status.choices)
    probability = models.PositiveSmallIntegerField(null=True, blank=True)
    note = models.CharField(_("note"), max_length=300, blank=True)
    by = models.ForeignKey(USER, verbose_name=_("by"), null=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("stage change")
        verbose_name_plural = _("stage changes")
        ordering = ["at", "pk"]
        db_table = "sal_stage_history"

    def __str__(self) -> str:
        return f"{self.opportunity_id}: {self.from_stage_id}→{self.to_stage_id}"


class PlanItem(models.Model):
    """客户开发计划 (sal_plan): a dated step of the development plan and, later, its 执行效果."""

    opportunity = models.ForeignKey(
        Opportunity, verbose_name=_("opportunity"), on_delete=models.CASCADE, related_name="plan_items"
    )
    planned_on = models.DateField(_("date"), db_index=True)
    todo = models.CharField(_("what to do"), max_length=300)
    outcome = models.TextField(_("outcome"), blank=True)
    outcome_at = models.DateTimeField(_("outcome recorded at"), null=True, blank=True)
    created_by = models.ForeignKey(USER, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    scope_owner_field = "opportunity__created_by"
    scope_department_field = "opportunity__department"

    class Meta:
        verbose_name = _("plan item")
        verbose_name_plural = _("plan items")
        ordering = ["planned_on", "pk"]
        db_table = "sal_plan"

    def __str__(self) -> str:
        return f"{self.planned_on} {self.todo[:40]}"

    @staticmethod
    def scope_extra_q(user):
        return Q(opportunity__assignee=user)

    @property
    def done(self) -> bool:
        return self.outcome_at is not None


class Campaign(Archivable):
    """营销活动: a target segment (customer filters), budget and dates; mailings go to its segment."""

    class Status(models.TextChoices):
        PLANNED = "planned", _("Planned")
        RUNNING = "running", _("Running")
        CLOSED = "closed", _("Closed")

    name = models.CharField(_("name"), max_length=120)
    description = models.TextField(_("description"), blank=True)
    starts_on = models.DateField(_("starts on"), null=True, blank=True)
    ends_on = models.DateField(_("ends on"), null=True, blank=True)
    budget = models.DecimalField(_("budget"), max_digits=14, decimal_places=2, default=0)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PLANNED)
    segment = models.JSONField(_("target segment"), default=dict, blank=True)
    created_by = models.ForeignKey(
        USER, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    department = models.ForeignKey(
        "accounts.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    scope_owner_field = "created_by"
    scope_department_field = "department"

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-pk"]
        db_table = "sal_campaign"
        constraints = [
            models.CheckConstraint(condition=Q(budget__gte=0), name="sal_campaign_budget_not_negative"),
            models.CheckConstraint(
                condition=Q(starts_on__isnull=True)
                | Q(ends_on__isnull=True)
                | Q(ends_on__gte=models.F("starts_on")),
                name="sal_campaign_dates_in_order",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self):
        return reverse("sales:campaign_detail", args=[self.pk])


class Mailing(models.Model):
    """邮件群发: one e-mail (subject and body templates) to the campaign's segment."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.PROTECT, related_name="mailings"
    )
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("body"))
    from_email = models.CharField(_("sender"), max_length=200, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.DRAFT)
    base_url = models.CharField(_("site address"), max_length=200, blank=True)
    job = models.ForeignKey("core.Job", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        USER, verbose_name=_("created by"), on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    queued_at = models.DateTimeField(_("queued at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    recipient_count = models.PositiveIntegerField(_("recipients"), default=0)

    scope_owner_field = "campaign__created_by"
    scope_department_field = "campaign__department"

    class Meta:
        verbose_name = _("mailing")
        verbose_name_plural = _("mailings")
        ordering = ["-created_at", "-pk"]
        db_table = "sal_mailing"

    def __str__(self) -> str:
        return self.subject

    def get_absolute_url(self):
        return reverse("sales:mailing_detail", args=[self.pk])


class Recipient(models.Model):
    """One addressee of a mailing, with what happened to the e-mail."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        BOUNCED = "bounced", _("Bounced")
        UNSUBSCRIBED = "unsubscribed", _("Skipped: unsubscribed")

    mailing = models.ForeignKey(Mailing, on_delete=models.CASCADE, related_name="recipients")
    customer = models.ForeignKey(
        "customers.Customer", verbose_name=_("customer"), on_delete=models.PROTECT, related_name="+"
    )
    contact = models.ForeignKey(
        "customers.Contact",
        verbose_name=_("contact"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    email = models.CharField(_("e-mail"), max_length=254)
    email_key = models.CharField(max_length=254)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.QUEUED)
    error = models.CharField(_("server's answer"), max_length=500, blank=True)
    sent_at = models.DateTimeField(_("sent at"), null=True, blank=True)
    responded_at = models.DateTimeField(_("responded at"), null=True, blank=True)
    response_note = models.TextField(_("response"), blank=True)
    opportunity = models.ForeignKey(
        Opportunity,
        verbose_name=_("opportunity"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    scope_owner_field = "mailing__campaign__created_by"
    scope_department_field = "mailing__campaign__department"

    class Meta:
        verbose_name = _("recipient")
        verbose_name_plural = _("recipients")
        ordering = ["pk"]
        db_table = "sal_mailing_recipient"
        constraints = [
            models.UniqueConstraint(fields=["mailing", "email_key"], name="sal_recipient_one_per_address")
        ]
        indexes = [models.Index(fields=["mailing", "status"])]

    def __str__(self) -> str:
        return self.email


class Unsubscribe(models.Model):
    """退订: an address that asked for no more mass e-mail; every later send skips it."""

    email_key = models.CharField(_("e-mail"), max_length=254, unique=True)
    mailing = models.ForeignKey(Mailing, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(_("unsubscribed at"), auto_now_add=True)

    class Meta:
        verbose_name = _("unsubscribe")
        verbose_name_plural = _("unsubscribes")
        ordering = ["-at"]
        db_table = "sal_unsubscribe"

    def __str__(self) -> str:
        return self.email_key
