"""After every ``migrate``: make the rights, built-in roles and numbering rules that the installed
modules declare exist.  A right seen for the first time is granted to its default roles; later
edits by an administrator are kept."""

from __future__ import annotations

from django.db import DEFAULT_DB_ALIAS

from kehu.core.registry import registry


def sync_after_migrate(sender=None, using=DEFAULT_DB_ALIAS, **kwargs):
    from kehu.accounts.models import BUILTIN_ROLES, Right, Role
    from kehu.core.models import NumberingRule

    roles = {}
    for code, _label, scope, read_only in BUILTIN_ROLES:
        role, _created = Role.objects.using(using).get_or_create(
            code=code, defaults={"scope": scope, "read_only": read_only, "is_builtin": True}
        )
        roles[code] = role
    existing = set(Right.objects.using(using).values_list("code", flat=True))
    for code, d in registry.rights.items():
        if code in existing:
            continue
        right = Right.objects.using(using).create(code=code, module=d.module)
        for role_code in d.default_roles:
            if role_code in roles:
                roles[role_code].rights.add(right)
    for code, (_label, pattern) in registry.document_types.items():
        NumberingRule.objects.using(using).get_or_create(doc_type=code, defaults={"pattern": pattern})


def seed_dictionary(DictEntry, types=None):
    """Used by data migrations: insert the default entries of ``types`` that are missing."""
    from kehu.core.dictionary import DEFAULTS

    for type_code, entries in DEFAULTS.items():
        if types is not None and type_code not in types:
            continue
        for order, (code, zh, en) in enumerate(entries, start=1):
            DictEntry.objects.get_or_create(
                type=type_code,
                code=code,
                defaults={"label_zh": zh, "label_en": en, "order": order * 10, "is_system": False},
            )
