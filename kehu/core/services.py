"""Writes that belong to core: archiving, the data dictionary, numbering rules."""

from __future__ import annotations

from django.db import models, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from kehu.core.audit import audited
from kehu.core.errors import InUse, PermissionDeniedError, ValidationFailed
from kehu.core.models import Archivable, DictEntry, NumberingRule
from kehu.core.numbering import validate_pattern
from kehu.core.registry import registry


def _lock(obj: models.Model) -> models.Model:
    return type(obj)._base_manager.select_for_update().get(pk=obj.pk)


def references(obj: models.Model, limit: int = 5) -> list[str]:
    """Describe the rows that point at ``obj``: every reverse foreign key, one-to-one and
    many-to-many, hidden ones included (``related_name="+"``)."""
    found = []
    for rel in obj._meta.get_fields(include_hidden=True):
        if not (rel.is_relation and rel.auto_created and not rel.concrete):
            continue
        model = rel.related_model
        n = model._base_manager.filter(**{rel.field.name: obj}).count()
        if n:
            found.append(f"{model._meta.verbose_name_plural}: {n}")
        if len(found) >= limit:
            break
    return found


@audited
def archive(obj: Archivable, *, by) -> Archivable:
    with transaction.atomic():
        obj = _lock(obj)
        if obj.archived_at is None:
            obj.archived_at = timezone.now()
            obj.archived_by = by
            obj.save(update_fields=["archived_at", "archived_by"])
        return obj


@audited
def restore(obj: Archivable, *, by) -> Archivable:
    with transaction.atomic():
        obj = _lock(obj)
        if obj.archived_at is not None:
            obj.archived_at = None
            obj.archived_by = None
            obj.save(update_fields=["archived_at", "archived_by"])
        return obj


@audited
def hard_delete(obj: models.Model, *, by) -> None:
    """Only administrators, and only records nothing references."""
    if not by.is_administrator:
        raise PermissionDeniedError(_("Only an administrator can delete records for good."))
    with transaction.atomic():
        obj = _lock(obj)
        refs = references(obj)
        if refs:
            raise InUse(
                _("%(obj)s is still referenced (%(refs)s); archive it instead.")
                % {"obj": obj, "refs": "; ".join(refs)},
                details={"references": refs},
            )
        try:
            obj.delete()
        except models.ProtectedError as exc:
            raise InUse(_("%(obj)s is still referenced; archive it instead.") % {"obj": obj}) from exc


# --- data dictionary ------------------------------------------------------------------------


def _clean_dict_entry(entry: DictEntry) -> None:
    if entry.type not in registry.dict_types:
        raise ValidationFailed(_("Unknown dictionary type."), details={"field": "type"})
    entry.code = (entry.code or "").strip()
    entry.label_zh = (entry.label_zh or "").strip()
    entry.label_en = (entry.label_en or "").strip()
    if not entry.code:
        raise ValidationFailed(_("The code is required."), details={"field": "code"})
    if not entry.label_zh or not entry.label_en:
        raise ValidationFailed(_("Both labels are required."), details={"field": "label_zh"})
    clash = DictEntry.objects.filter(type=entry.type, code=entry.code).exclude(pk=entry.pk)
    if clash.exists():
        raise ValidationFailed(
            _("The code %(code)s already exists in this dictionary.") % {"code": entry.code},
            details={"field": "code"},
        )


@audited
def save_dict_entry(entry: DictEntry, *, by) -> DictEntry:
    with transaction.atomic():
        if entry.pk:
            current = _lock(entry)
            if current.is_system and (current.code != entry.code or current.type != entry.type):
                raise ValidationFailed(
                    _("The code of a system entry cannot change."), details={"field": "code"}
                )
        _clean_dict_entry(entry)
        entry.save()
        return entry


@audited
def set_dict_entry_enabled(entry: DictEntry, *, enabled: bool, by) -> DictEntry:
    with transaction.atomic():
        entry = _lock(entry)
        entry.enabled = enabled
        entry.save(update_fields=["enabled"])
        return entry


@audited
def delete_dict_entry(entry: DictEntry, *, by) -> None:
    with transaction.atomic():
        entry = _lock(entry)
        if entry.is_system:
            raise InUse(_("A system entry cannot be deleted; disable it instead."))
        refs = references(entry)
        if refs:
            raise InUse(
                _("The entry %(label)s is in use (%(refs)s); disable it instead.")
                % {"label": entry.label, "refs": "; ".join(refs)},
                details={"references": refs},
            )
        try:
            entry.delete()
        except models.ProtectedError as exc:
            raise InUse(
                _("The entry %(label)s is in use; disable it instead.") % {"label": entry.label}
            ) from exc


# --- numbering rules ------------------------------------------------------------------------


@audited
def update_numbering_rule(rule: NumberingRule, *, pattern: str, by) -> NumberingRule:
    pattern = (pattern or "").strip()
    validate_pattern(pattern)
    with transaction.atomic():
        rule = _lock(rule)
        rule.pattern = pattern
        rule.save(update_fields=["pattern", "updated_at"])
        return rule
