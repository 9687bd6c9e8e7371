from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from kehu.core.registry import registry


class ArchiveQuerySet(models.QuerySet):
    def active(self):
        return self.filter(archived_at__isnull=True)

    def archived(self):
        return self.filter(archived_at__isnull=False)


def _archived_at(**kwargs):
    return models.DateTimeField(_("archived at"), null=True, blank=True, **kwargs)


def _archived_by(**kwargs):
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("archived by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        **kwargs,
    )


class Archivable(models.Model):
    """Business records are archived, not deleted.  Lists show ``.active()``; archived records can
    be found with the "archived" filter and restored.  See ``kehu.core.services.archive``."""

    archived_at = _archived_at(db_index=True)
    archived_by = _archived_by()

    objects = ArchiveQuerySet.as_manager()

    class Meta:
        abstract = True

    @property
    def is_archived(self) -> bool:
        return self.archived_at is not None


class SparselyArchivable(Archivable):
    """An archivable table written in bulk (customers, contacts: an import writes 100,000 rows):
    ``archived_at`` and ``archived_by`` are indexed only where they are set (give the model
    :func:`set_only_indexes` for them).  Few rows are archived, and every query on the columns
    either wants the archived ones or a given person, so a new row costs no index entry for them."""

    archived_at = _archived_at()
    archived_by = _archived_by(db_index=False)

    class Meta:
        abstract = True


def set_only_indexes(table: str, *fields: str) -> list[models.Index]:
    """Partial indexes on ``fields`` over the rows where they are not NULL; a query for a value
    (``= x``, ``IN (…)``, ``IS NOT NULL``) uses them."""
    return [
        models.Index(fields=[f], condition=models.Q(**{f"{f}__isnull": False}), name=f"{table}_{f}_set")
        for f in fields
    ]


def dict_type_choices():
    return sorted(((code, label) for code, label in registry.dict_types.items()), key=lambda c: c[0])


class DictEntry(models.Model):
    """数据字典 (bas_dict): typed, bilingual, ordered choices that other modules point at."""

    cache_choices = True  # choice lists of entries are cached (kehu.core.choices)

    type = models.CharField(_("type"), max_length=40, db_index=True)
    code = models.CharField(_("code"), max_length=40)
    label_zh = models.CharField(_("Chinese label"), max_length=100)
    label_en = models.CharField(_("English label"), max_length=100)
    order = models.PositiveIntegerField(_("order"), default=100)
    enabled = models.BooleanField(_("enabled"), default=True)
    is_system = models.BooleanField(_("system entry"), default=False)

    class Meta:
        verbose_name = _("dictionary entry")
        verbose_name_plural = _("dictionary entries")
        ordering = ["type", "order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["type", "code"], name="core_dictentry_type_code_uniq"),
            models.CheckConstraint(condition=~models.Q(code=""), name="core_dictentry_code_not_empty"),
        ]

    def __str__(self) -> str:
        return self.label

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("core:dict_edit", args=[self.pk])

    @property
    def label(self) -> str:
        lang = (get_language() or "zh-hans").lower()
        return self.label_zh if lang.startswith("zh") else self.label_en

    @property
    def type_label(self):
        return registry.dict_types.get(self.type, self.type)


def dict_fk(type_code: str, verbose_name, **kwargs) -> models.ForeignKey:
    """A foreign key to one dictionary type.  PROTECT: an entry in use cannot be deleted."""
    kwargs.setdefault("null", True)
    kwargs.setdefault("blank", True)
    return models.ForeignKey(
        DictEntry,
        verbose_name=verbose_name,
        on_delete=models.PROTECT,
        limit_choices_to={"type": type_code},
        related_name="+",
        **kwargs,
    )


class NumberingRule(models.Model):
    """How the numbers of one document type look, e.g. ``SO{yyyyMMdd}{seq:4}``."""

    doc_type = models.CharField(_("document type"), max_length=40, unique=True)
    pattern = models.CharField(_("pattern"), max_length=60)
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("numbering rule")
        verbose_name_plural = _("numbering rules")
        ordering = ["doc_type"]

    def __str__(self) -> str:
        return f"{self.doc_type}: {self.pattern}"

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("core:numbering_edit", args=[self.pk])

    @property
    def label(self):
        return registry.document_types.get(self.doc_type, (self.doc_type, ""))[0]


class NumberCounter(models.Model):
    """The last number issued for a rule in one period (a day, a month, a year or for ever)."""

    rule = models.ForeignKey(NumberingRule, on_delete=models.CASCADE, related_name="counters")
    period = models.CharField(max_length=20)
    last = models.PositiveBigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["rule", "period"], name="core_numbercounter_uniq")]

    def __str__(self) -> str:
        return f"{self.rule_id}/{self.period}: {self.last}"


class Job(models.Model):
    """A background job as the user sees it: its progress survives a reload of the page."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    name = models.CharField(_("job"), max_length=80)
    label = models.CharField(_("description"), max_length=200)
    params = models.JSONField(_("parameters"), default=dict, blank=True)
    status = models.CharField(_("status"), max_length=12, choices=Status.choices, default=Status.QUEUED)
    done = models.PositiveIntegerField(_("done"), default=0)
    total = models.PositiveIntegerField(_("total"), default=0)
    message = models.CharField(_("message"), max_length=300, blank=True)
    result = models.JSONField(_("result"), default=dict, blank=True)
    error = models.TextField(_("error"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, verbose_name=_("created by"), null=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(_("created at"), default=timezone.now, db_index=True)
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)

    scope_owner_field = "created_by"

    class Meta:
        verbose_name = _("background job")
        verbose_name_plural = _("background jobs")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.label

    def get_absolute_url(self):
        from django.urls import reverse

        return reverse("core:job_detail", args=[self.pk])

    @property
    def percent(self) -> int:
        if self.status == self.Status.SUCCEEDED:
            return 100
        if not self.total:
            return 0
        return min(100, int(self.done * 100 / self.total))

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.SUCCEEDED, self.Status.FAILED)


class Setting(models.Model):
    """系统参数: a value an administrator may change (e.g. the public pool's rules).  The keys,
    labels, types and defaults are declared by the modules (``registry.register_setting``)."""

    key = models.CharField(_("key"), max_length=60, unique=True)
    value = models.JSONField(_("value"))
    updated_at = models.DateTimeField(_("updated at"), auto_now=True)

    class Meta:
        verbose_name = _("system setting")
        verbose_name_plural = _("system settings")
        ordering = ["key"]

    def __str__(self) -> str:
        return self.key
