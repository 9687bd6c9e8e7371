"""Helpers shared by the customer page tests (no tests here)."""

from __future__ import annotations

from kehu.core.models import DictEntry
from kehu.customers import services
from kehu.customers.models import Contact, Customer


def entry(type_: str, code: str) -> DictEntry:
    return DictEntry.objects.get(type=type_, code=code)


def make_customer(owner, name: str = "北京华夏科技有限公司", *, by=None, **fields) -> Customer:
    """A customer created through the service (numbered, normalised), owned by ``owner``."""
    return services.create_customer(by=by or owner, owner=owner, name=name, confirm_duplicate=True, **fields)


def make_pool_customer(owner, name: str = "上海公海贸易有限公司", **fields) -> Customer:
    c = make_customer(owner, name, **fields)
    services.release_to_pool(c, by=owner)
    c.refresh_from_db()
    return c


def add_contact(customer, by, name: str = "张明", **fields) -> Contact:
    return services.save_contact(Contact(customer=customer, name=name, **fields), by=by)


def add_activity(customer, by, subject: str = "电话沟通采购需求", **kwargs):
    kwargs.setdefault("kind", entry("activity_type", "call"))
    return services.record_activity(customer=customer, by=by, subject=subject, **kwargs)


def text(resp) -> str:
    return resp.content.decode()
