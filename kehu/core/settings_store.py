"""Reading and writing system parameters (系统参数) declared with ``register_setting``."""

from __future__ import annotations

from django.core.cache import cache
from django.db import transaction
from django.utils.translation import gettext as _

from kehu.core.audit import audited
from kehu.core.errors import ValidationFailed
from kehu.core.models import Setting
from kehu.core.registry import registry

CACHE_KEY = "kehu:setting:{}"


def get_setting(key: str):
    d = registry.settings[key]
    cached = cache.get(CACHE_KEY.format(key))
    if cached is not None:
        return cached
    row = Setting.objects.filter(key=key).first()
    value = row.value if row is not None else d.default
    cache.set(CACHE_KEY.format(key), value, 60)
    return value


@audited
def set_setting(key: str, value, *, by) -> object:
    d = registry.settings.get(key)
    if d is None:
        raise ValidationFailed(_("Unknown setting %(key)s.") % {"key": key})
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise ValidationFailed(
            _("%(label)s must be a whole number.") % {"label": d.label}, details={"field": key}
        )
    if (d.minimum is not None and value < d.minimum) or (d.maximum is not None and value > d.maximum):
        raise ValidationFailed(
            _("%(label)s must be between %(min)s and %(max)s.")
            % {"label": d.label, "min": d.minimum, "max": d.maximum},
            details={"field": key},
        )
    with transaction.atomic():
        row, _created = Setting.objects.select_for_update().get_or_create(key=key, defaults={"value": value})
        if row.value != value:
            row.value = value
            row.save(update_fields=["value", "updated_at"])
        cache.delete(CACHE_KEY.format(key))
    transaction.on_commit(lambda: cache.delete(CACHE_KEY.format(key)))  # again, after readers in between
    return value
