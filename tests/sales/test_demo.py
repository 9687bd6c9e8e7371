import pytest

pytestmark = pytest.mark.django_db


def test_demo_has_every_stage_and_status(demo):
    from kehu.customers.demo import load as customers_demo
    from kehu.sales.demo import load
    from kehu.sales.models import Mailing, Opportunity, PlanItem, Recipient, Stage

    customers_demo(count=120)
    load()
    load()  # idempotent
    open_stages = set(
        Opportunity.objects.filter(status__in=["unassigned", "assigned"]).values_list("stage", flat=True)
    )
    assert open_stages == set(Stage.objects.filter(is_won=False).values_list("pk", flat=True))
    assert set(Opportunity.objects.values_list("status", flat=True)) == {
        "unassigned",
        "assigned",
        "won",
        "lost",
    }
    assert PlanItem.objects.filter(outcome_at__isnull=False).exists()
    m = Mailing.objects.get()
    assert m.status == "sent" and Recipient.objects.filter(mailing=m, status="sent").count() >= 2
    assert Recipient.objects.filter(opportunity__isnull=False).count() == 1
