"""Races on PostgreSQL with real threads: two people saving the same product code at once, two
moving categories into each other at once.  Exactly one wins; the other gets a clear error."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from kehu.catalog import services
from kehu.catalog.models import Category, Product
from kehu.core.errors import DomainError


def _race(funcs):
    barrier = threading.Barrier(len(funcs))
    results, errors = [], []
    lock = threading.Lock()

    def run(func):
        try:
            barrier.wait()
            value = func()
            with lock:
                results.append(value)
        except DomainError as exc:
            with lock:
                errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(f,)) for f in funcs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results, errors


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_same_code_in_parallel_one_wins():
    """12 threads create RACE-1 / race-1 / Race-1 at once: one product, eleven clear errors."""
    codes = ["RACE-1", "race-1", "Race-1"] * 4
    funcs = [
        (lambda code=code, n=n: services.create_product(by=None, code=code, name=f"并发{n}", spec=str(n)))
        for n, code in enumerate(codes)
    ]
    results, errors = _race(funcs)
    assert len(results) == 1
    assert len(errors) == 11
    assert {e.code for e in errors} == {"duplicate_code"}
    assert all(e.details.get("field") == "code" for e in errors)
    assert Product.objects.filter(code__iexact="race-1").count() == 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_categories_moved_into_each_other_in_parallel():
    """A under B and B under A at the same moment would make a loop: one move is refused."""
    a = services.create_category(name="A", by=None)
    b = services.create_category(name="B", by=None)
    results, errors = _race(
        [
            lambda: services.update_category(a, parent=b, by=None),
            lambda: services.update_category(b, parent=a, by=None),
        ]
    )
    assert len(results) == 1 and len(errors) == 1
    assert errors[0].details["field"] == "parent"
    parents = dict(Category.objects.values_list("name", "parent__name"))
    assert parents in ({"A": "B", "B": None}, {"A": None, "B": "A"})
