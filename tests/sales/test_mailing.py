"""Campaigns and mass e-mail: segments, templates, queuing, sending (in memory and through a real
SMTP server on loopback), bounces, unsubscribes, responses."""

from __future__ import annotations

import email
import email.policy
import socket
import time
from decimal import Decimal

import pytest
from django.core import mail
from django.urls import reverse

from kehu.core.errors import IllegalTransition, PermissionDeniedError, ValidationFailed
from kehu.core.models import DictEntry
from kehu.customers import services as cs
from kehu.customers.models import Contact
from kehu.sales import services
from kehu.sales.models import Mailing, Opportunity, Recipient, Unsubscribe

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(demo):
    vip = DictEntry.objects.get(type="customer_level", code="vip")
    made = []
    for name, person, addr in (
        ("北京华夏科技有限公司", "王经理", "wang@huaxia.cn"),
        ("上海东方贸易有限公司", "李总", "li@dongfang.cn"),
        ("深圳南山电子有限公司", "赵工", "bounce@nanshan.cn"),
    ):
        c = cs.create_customer(by=demo["manager"], name=name, level=vip)
        cs.save_contact(Contact(customer=c, name=person, email=addr), by=demo["manager"])
        made.append(c)
    # the same address twice (second contact of the first customer) and a contact without e-mail
    cs.save_contact(Contact(customer=made[0], name="王经理2", email="WANG@huaxia.cn "), by=demo["manager"])
    cs.save_contact(Contact(customer=made[1], name="无邮箱"), by=demo["manager"])
    # a customer outside the segment
    other = cs.create_customer(by=demo["manager"], name="成都天府数据服务有限公司")
    cs.save_contact(Contact(customer=other, name="郑洁", email="zheng@tianfu.cn"), by=demo["manager"])
    return {"customers": made, "vip": vip}


@pytest.fixture
def campaign(people, demo):
    return services.create_campaign(
        by=demo["supervisor"],
        name="秋季新品推介会",
        budget="50000",
        segment={"level": str(people["vip"].pk)},
    )


@pytest.fixture
def mailing(campaign, demo):
    return services.create_mailing(
        campaign,
        subject="{{ customer.name }}：诚邀参加推介会",
        body="尊敬的{{ contact.name }}：\n诚邀{{ customer.name }}参加{{ campaign.name }}。"
        "\n退订：{{ unsubscribe_url }}",
        by=demo["supervisor"],
    )


def test_campaign_rules(people, demo):
    with pytest.raises(PermissionDeniedError):
        services.create_campaign(by=demo["manager"], name="x")
    with pytest.raises(ValidationFailed):
        services.create_campaign(by=demo["supervisor"], name="x", segment={"colour": "red"})
    with pytest.raises(ValidationFailed):
        services.create_campaign(by=demo["supervisor"], name="x", segment={"level": "999999"})
    with pytest.raises(ValidationFailed):
        services.create_campaign(by=demo["supervisor"], name="x", budget="-5")
    import datetime as dt

    with pytest.raises(ValidationFailed):
        services.create_campaign(
            by=demo["supervisor"], name="x", starts_on=dt.date(2026, 5, 2), ends_on=dt.date(2026, 5, 1)
        )
    c = services.create_campaign(by=demo["supervisor"], name="x", budget="1000.005")
    assert c.budget == Decimal("1000.01")


def test_segment_uses_the_customer_filters(campaign, people, demo):
    customers = services.segment_customers(campaign.segment, demo["supervisor"])
    assert set(customers) == set(people["customers"])
    # a user who sees none of them gets none
    assert not services.segment_customers(campaign.segment, demo["manager2"]).exists()


@pytest.mark.parametrize(
    "body, unknown",
    [
        ("Hi {{ customer.secret }}", ["customer.secret"]),
        ("Hi {{customer.name}} {{ contact.password }} {{ x }}", ["contact.password", "x"]),
    ],
)
def test_unknown_template_field(campaign, demo, body, unknown):
    with pytest.raises(ValidationFailed) as e:
        services.create_mailing(campaign, subject="s", body=body, by=demo["supervisor"])
    assert e.value.details == {"field": "body", "unknown": unknown}
    assert unknown[0] in str(e.value)
    assert not Mailing.objects.exists()


def test_template_tags_and_unclosed_fields_are_refused(campaign, demo):
    with pytest.raises(ValidationFailed):
        services.create_mailing(campaign, subject="s", body="{% load x %}", by=demo["supervisor"])
    with pytest.raises(ValidationFailed):
        services.create_mailing(campaign, subject="{{ customer.name", body="b", by=demo["supervisor"])


def test_mail_right(campaign, demo):
    with pytest.raises(PermissionDeniedError):
        services.create_mailing(campaign, subject="s", body="b", by=demo["manager"])


def test_queue_materialises_one_recipient_per_address(mailing, demo, django_capture_on_commit_callbacks):
    Unsubscribe.objects.create(email_key="li@dongfang.cn")
    with django_capture_on_commit_callbacks(execute=True):
        m = services.queue_mailing(mailing, by=demo["supervisor"], base_url="http://crm.example.cn/")
    assert m.recipient_count == 3
    rows = {r.email_key: r for r in Recipient.objects.filter(mailing=m)}
    assert set(rows) == {"wang@huaxia.cn", "li@dongfang.cn", "bounce@nanshan.cn"}
    assert rows["wang@huaxia.cn"].contact.name == "王经理"  # the primary contact wins the address
    assert rows["li@dongfang.cn"].status == "unsubscribed"
    m.refresh_from_db()
    assert m.status == "sent" and m.job.status == "succeeded"
    # in-memory backend in tests: two sent, the unsubscribed one skipped
    assert sorted(x.to[0] for x in mail.outbox) == ["bounce@nanshan.cn", "wang@huaxia.cn"]
    msg = next(x for x in mail.outbox if x.to == ["wang@huaxia.cn"])
    assert msg.subject == "北京华夏科技有限公司：诚邀参加推介会"
    assert "尊敬的王经理" in msg.body and "秋季新品推介会" in msg.body
    assert "http://crm.example.cn/sales/unsubscribe/" in msg.body
    assert msg.extra_headers["List-Unsubscribe"].startswith("<http://crm.example.cn/sales/unsubscribe/")


def test_sending_twice_is_refused(mailing, demo, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        services.queue_mailing(mailing, by=demo["supervisor"])
    with pytest.raises(IllegalTransition):
        services.queue_mailing(mailing, by=demo["supervisor"])
    assert Recipient.objects.filter(mailing=mailing).count() == 3


def test_an_empty_segment_is_refused(campaign, demo):
    c = services.create_campaign(by=demo["supervisor"], name="空", segment={"q": "不存在的公司"})
    m = services.create_mailing(c, subject="s", body="b", by=demo["supervisor"])
    with pytest.raises(ValidationFailed):
        services.queue_mailing(m, by=demo["supervisor"])
    m.refresh_from_db()
    assert m.status == "draft"


def test_unsubscribe_link_works_and_is_honoured(
    mailing, campaign, demo, client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        services.queue_mailing(mailing, by=demo["supervisor"])
    msg = next(x for x in mail.outbox if x.to == ["wang@huaxia.cn"])
    url = msg.extra_headers["List-Unsubscribe"].strip("<>").replace("http://localhost:8000", "")
    assert client.get(url).status_code == 200  # a confirmation page; GET changes nothing
    assert not Unsubscribe.objects.exists()
    r = client.post(url)
    assert r.status_code == 200 and "wang@huaxia.cn" in r.content.decode()
    assert Unsubscribe.objects.filter(email_key="wang@huaxia.cn").exists()
    client.post(url)  # twice: still one row
    assert Unsubscribe.objects.count() == 1
    assert client.get("/sales/unsubscribe/forged-token/").status_code == 400
    # the next mailing skips the address: sending twice to someone who unsubscribed
    mail.outbox.clear()
    second = services.create_mailing(
        campaign, subject="again", body="{{ contact.name }}", by=demo["supervisor"]
    )
    with django_capture_on_commit_callbacks(execute=True):
        services.queue_mailing(second, by=demo["supervisor"])
    assert "wang@huaxia.cn" not in [x.to[0] for x in mail.outbox]
    assert Recipient.objects.get(mailing=second, email_key="wang@huaxia.cn").status == "unsubscribed"
    assert not second.body.count("unsubscribe_url")
    assert "/sales/unsubscribe/" in mail.outbox[0].body  # a footer link is added when the body has none


def test_unsubscribing_while_queued_is_honoured_at_send_time(mailing, demo):
    from kehu.sales.mailer import send_mailing

    services.queue_mailing(mailing, by=demo["supervisor"])  # the job has not run (no commit)
    Unsubscribe.objects.create(email_key="bounce@nanshan.cn")
    send_mailing(mailing.pk)
    assert Recipient.objects.get(mailing=mailing, email_key="bounce@nanshan.cn").status == "unsubscribed"
    assert sorted(x.to[0] for x in mail.outbox) == ["li@dongfang.cn", "wang@huaxia.cn"]


def test_responses_become_opportunities(mailing, demo, django_capture_on_commit_callbacks):
    Unsubscribe.objects.create(email_key="li@dongfang.cn")
    with django_capture_on_commit_callbacks(execute=True):
        services.queue_mailing(mailing, by=demo["supervisor"])
    r = Recipient.objects.get(mailing=mailing, email_key="wang@huaxia.cn")
    services.mark_responded(r, by=demo["supervisor"], note="询问价格")
    with pytest.raises(PermissionDeniedError):
        services.response_to_opportunity(r, by=demo["manager"])
    opp = services.response_to_opportunity(r, by=demo["supervisor"], amount="30000")
    r.refresh_from_db()
    assert r.opportunity == opp and r.responded_at
    assert opp.customer == r.customer and opp.campaign == mailing.campaign and opp.source.code == "campaign"
    assert opp.prospect_contact == "王经理" and opp.description == "询问价格"
    with pytest.raises(IllegalTransition):
        services.response_to_opportunity(r, by=demo["supervisor"])
    skipped = Recipient.objects.get(mailing=mailing, email_key="li@dongfang.cn")
    with pytest.raises(IllegalTransition):
        services.mark_responded(skipped, by=demo["supervisor"])
    assert Opportunity.objects.count() == 1


# --- a real SMTP server on loopback -------------------------------------------------------------


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Handler:
    """Accepts everybody but bounce@… (550, as a real server answers for an unknown mailbox)."""

    def __init__(self):
        self.messages = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("bounce@"):
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((envelope.rcpt_tos[:], envelope.content))
        return "250 Message accepted for delivery"


@pytest.fixture
def smtp_server():
    from aiosmtpd.controller import Controller

    handler = Handler()
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def test_send_through_a_real_smtp_server(
    mailing, demo, settings, smtp_server, django_capture_on_commit_callbacks
):
    handler, port = smtp_server
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    with django_capture_on_commit_callbacks(execute=True):
        services.queue_mailing(mailing, by=demo["supervisor"], base_url="http://crm.example.cn")
    for _ in range(50):
        if handler.messages:
            break
        time.sleep(0.05)
    statuses = dict(Recipient.objects.filter(mailing=mailing).values_list("email_key", "status"))
    assert statuses == {"wang@huaxia.cn": "sent", "li@dongfang.cn": "sent", "bounce@nanshan.cn": "bounced"}
    bounced = Recipient.objects.get(mailing=mailing, email_key="bounce@nanshan.cn")
    assert bounced.error.startswith("550") and "User unknown" in bounced.error
    assert sorted(tos[0] for tos, _c in handler.messages) == ["li@dongfang.cn", "wang@huaxia.cn"]
    raw = next(c for tos, c in handler.messages if tos == ["wang@huaxia.cn"])
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert msg["Subject"].strip() == "北京华夏科技有限公司：诚邀参加推介会"
    assert msg["To"] == "wang@huaxia.cn"
    assert msg["List-Unsubscribe"].strip().startswith("<http://crm.example.cn/sales/unsubscribe/")
    body = msg.get_content()
    assert "北京华夏科技有限公司" in body and "尊敬的王经理" in body
    assert "http://crm.example.cn/sales/unsubscribe/" in body
    mailing.refresh_from_db()
    assert mailing.status == "sent"


def test_unreachable_server_marks_the_batch_failed(mailing, demo, settings):
    from kehu.sales.mailer import send_mailing

    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", _free_port(), 2
    services.queue_mailing(mailing, by=demo["supervisor"])
    send_mailing(mailing.pk)
    rows = Recipient.objects.filter(mailing=mailing).exclude(status="unsubscribed")
    assert {r.status for r in rows} == {"failed"} and all(
        "Connection" in r.error or "refused" in r.error for r in rows
    )


def test_unsubscribe_page_is_public(client, mailing):
    token = services.unsubscribe_token("Someone@Example.cn", mailing.pk)
    r = client.get(reverse("sales:unsubscribe", args=[token]))
    assert r.status_code == 200 and "someone@example.cn" in r.content.decode()
