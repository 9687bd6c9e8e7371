"""Demo marketing data: opportunities in every stage and status (through the services, so the
history is real), development plans with outcomes, and a campaign whose mailing went to a few
customers (sent with the in-memory mail backend: the demo never e-mails anybody)."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

PROSPECTS = [
    ("杭州云帆智能科技有限公司", "周敏", "13912345601"),
    ("苏州恒泰精密机械有限公司", "吴刚", "13912345602"),
    ("成都天府数据服务有限公司", "郑洁", "13912345603"),
    ("武汉光谷新材料有限公司", "冯涛", "13912345604"),
    ("青岛海之蓝食品有限公司", "何静", "13912345605"),
    ("厦门鹭岛国际贸易有限公司", "许亮", "13912345606"),
    ("长沙湘江环保设备有限公司", "邓超", "13912345607"),
    ("西安秦川医疗器械有限公司", "曹雪", "13912345608"),
]
SUMMARIES = [
    "采购办公自动化设备",
    "年度耗材框架协议",
    "生产线数据采集改造",
    "仓储管理系统升级",
    "新厂区网络建设",
    "售后服务外包合同",
    "批量采购检测仪器",
    "渠道合作代理",
]
PLAN_STEPS = [
    ("电话沟通，了解需求", "客户有明确采购计划，预算已批。"),
    ("发送产品资料和报价", "客户已收到资料，对价格有疑问。"),
    ("上门拜访，演示产品", "技术负责人认可方案，需要内部评审。"),
    ("商务谈判", ""),
]


def load(seed: int = 20261124):
    from kehu.accounts.models import User
    from kehu.core.models import DictEntry
    from kehu.customers.models import Customer

    from . import services
    from .models import Opportunity, Stage
    from .seeds import seed_stages

    seed_stages()
    if Opportunity.objects.exists():
        return
    users = {
        u.username: u
        for u in User.objects.filter(username__in=["supervisor", "manager", "manager2", "admin"])
    }
    sup, mgr, mgr2, adm = (users.get(n) for n in ("supervisor", "manager", "manager2", "admin"))
    if not (sup and mgr and mgr2 and adm):
        return
    rng = random.Random(seed)
    today = timezone.localdate()
    stages = list(Stage.objects.filter(enabled=True, is_won=False).order_by("order"))
    sources = list(DictEntry.objects.filter(type="opportunity_source"))
    reasons = list(DictEntry.objects.filter(type="lost_reason"))
    customers = {
        name: list(Customer.objects.active().filter(owner=name_user, status="prospect").order_by("pk")[:12])
        for name, name_user in (("manager", mgr), ("manager2", mgr2))
    }

    def amount():
        return Decimal(rng.choice([8, 15, 30, 50, 80, 120, 260])) * 1000

    with transaction.atomic():
        made = []
        # Each account manager's own prospects, in every stage, assigned by the supervisor.
        for i in range(16):
            who = mgr if i % 2 == 0 else mgr2
            pool = customers["manager" if who == mgr else "manager2"]
            customer = pool[i // 2] if i // 2 < len(pool) else None
            stage = stages[i % len(stages)]
            boss = sup if who == mgr else adm  # manager2 works in another department
            creator = boss if i % 3 == 0 and who == mgr else who
            kwargs = (
                {"customer": customer} if customer else {"prospect_name": PROSPECTS[i % len(PROSPECTS)][0]}
            )
            o = services.create_opportunity(
                by=creator,
                summary=SUMMARIES[i % len(SUMMARIES)],
                source=rng.choice(sources) if sources else None,
                amount=amount(),
                expected_close=today + timedelta(days=rng.randint(-20, 150)),
                description="客户在展会上留下联系方式，表示有采购意向。",
                **kwargs,
            )
            if creator.pk != who.pk or i % 4 != 3:
                o = services.assign_opportunity(o, to=who, by=boss)
            if o.assignee_id:
                if stage.pk != o.stage_id:
                    o = services.move_opportunity(o, stage=stage, by=who)
                for k, (todo, outcome) in enumerate(PLAN_STEPS[: 1 + i % 4]):
                    item = services.add_plan_item(
                        o, planned_on=today - timedelta(days=12 - 4 * k), todo=todo, by=who
                    )
                    if outcome and k < i % 4:
                        services.record_outcome(item, outcome=outcome, by=who)
                services.add_plan_item(
                    o, planned_on=today + timedelta(days=i % 3), todo="回访，确认采购时间", by=who
                )
            made.append(o)
        # Unassigned prospects waiting for the supervisor.
        for name, contact, phone in PROSPECTS[:4]:
            services.create_opportunity(
                by=rng.choice([mgr, mgr2, sup]),
                prospect_name=name.replace("有限公司", "分公司"),
                prospect_contact=contact,
                prospect_phone=phone,
                summary="咨询产品报价",
                amount=amount(),
                expected_close=today + timedelta(days=rng.randint(10, 90)),
            )
        # Won (one from a prospect with its contact, one for an existing customer) and lost.
        for k, (name, contact, phone) in enumerate(PROSPECTS[4:8]):
            who = mgr if k % 2 == 0 else mgr2
            o = services.create_opportunity(
                by=who,
                prospect_name=name,
                prospect_contact=contact,
                prospect_phone=phone,
                prospect_email=f"sales{k}@example.cn",
                summary=SUMMARIES[k],
                amount=amount(),
                expected_close=today - timedelta(days=rng.randint(1, 30)),
            )
            o = services.assign_opportunity(o, to=who, by=sup if who == mgr else adm)
            o = services.move_opportunity(o, stage=stages[-1], by=who)
            item = services.add_plan_item(o, planned_on=today - timedelta(days=20), todo="商务谈判", by=who)
            services.record_outcome(
                item, outcome="双方就价格达成一致。" if k < 2 else "客户选择了其他供应商。", by=who
            )
            if k < 2:
                services.win_opportunity(o, by=who, confirm_duplicate=True)
            elif reasons:
                services.lose_opportunity(
                    o, reason=reasons[k % len(reasons)], note="价格高于竞争对手。", by=who
                )
        # Spread the creation and closing dates, so the forecast's cycle lengths look real.
        for o in Opportunity.objects.all():
            back = timedelta(days=rng.randint(20, 120))
            fields = {"created_at": o.created_at - back}
            if o.closed_at:
                fields["closed_at"] = o.closed_at - timedelta(days=rng.randint(0, 15))
            Opportunity.objects.filter(pk=o.pk).update(**fields)
        _campaign(sup, today)


def _campaign(sup, today):
    from kehu.core.models import DictEntry
    from kehu.customers.models import Contact

    from . import services
    from .mailer import send_mailing
    from .models import Campaign, Mailing, Recipient

    vip = DictEntry.objects.filter(type="customer_level", code="vip").first()
    c = services.create_campaign(
        by=sup,
        name="秋季新品推介会",
        description="面向重点客户的新品发布与试用活动。",
        starts_on=today - timedelta(days=10),
        ends_on=today + timedelta(days=20),
        budget=Decimal("50000"),
        status=Campaign.Status.RUNNING,
        segment={"level": str(vip.pk)} if vip else {},
    )
    m = services.create_mailing(
        c,
        subject="{{ customer.name }}：诚邀参加秋季新品推介会",
        body="尊敬的{{ contact.name }}：\n\n诚邀贵公司（{{ customer.name }}）参加我司秋季新品推介会。\n\n"
        "如不希望再收到此类邮件，请点击：{{ unsubscribe_url }}",
        by=sup,
    )
    contacts = list(
        Contact.objects.active()
        .exclude(email="")
        .filter(customer__in=services.segment_customers(c.segment, sup))
        .order_by("customer_id", "-is_primary", "pk")[:6]
    )
    seen = set()
    rows = []
    for ct in contacts:
        key = services.email_key(ct.email)
        if key not in seen:
            seen.add(key)
            rows.append(
                Recipient(mailing=m, customer_id=ct.customer_id, contact=ct, email=ct.email, email_key=key)
            )
    Recipient.objects.bulk_create(rows)
    Mailing.objects.filter(pk=m.pk).update(
        status=Mailing.Status.QUEUED,
        queued_at=timezone.now(),
        recipient_count=len(rows),
        base_url="http://localhost:8000",
    )
    send_mailing(m.pk, backend="django.core.mail.backends.locmem.EmailBackend")
    first = Recipient.objects.filter(mailing=m, status=Recipient.Status.SENT).order_by("pk").first()
    if first is not None:
        services.response_to_opportunity(
            first, by=sup, summary="推介会后有意采购新品", note="客户回复邮件询问报价。"
        )
