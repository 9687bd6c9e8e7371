"""Demo customers: a few hundred Chinese companies and people with contacts and activities."""

from __future__ import annotations

import random
from datetime import timedelta
from decimal import Decimal

from django.db import transaction
from django.utils import timezone

from kehu.core.models import DictEntry

CITIES = [
    "北京",
    "上海",
    "广州",
    "深圳",
    "杭州",
    "南京",
    "苏州",
    "成都",
    "武汉",
    "西安",
    "天津",
    "重庆",
    "青岛",
    "厦门",
    "长沙",
    "郑州",
    "宁波",
    "无锡",
    "合肥",
    "济南",
]
REGION_OF = {
    "北京": "north",
    "天津": "north",
    "济南": "north",
    "青岛": "north",
    "上海": "east",
    "杭州": "east",
    "南京": "east",
    "苏州": "east",
    "宁波": "east",
    "无锡": "east",
    "合肥": "east",
    "广州": "south",
    "深圳": "south",
    "厦门": "south",
    "成都": "southwest",
    "重庆": "southwest",
    "武汉": "central",
    "长沙": "central",
    "郑州": "central",
    "西安": "northwest",
}
WORDS = [
    "华夏",
    "东方",
    "恒信",
    "天成",
    "瑞丰",
    "金桥",
    "中科",
    "博远",
    "鼎盛",
    "新锐",
    "宏达",
    "创新",
    "永和",
    "嘉禾",
    "海纳",
    "万通",
    "九州",
    "远航",
    "合众",
    "蓝天",
    "晨光",
    "同创",
    "志诚",
    "卓越",
    "汇丰源",
]
TRADES = [
    ("科技", "it"),
    ("电子", "manufacturing"),
    ("机械", "manufacturing"),
    ("贸易", "retail"),
    ("建设工程", "construction"),
    ("医疗器械", "healthcare"),
    ("教育科技", "education"),
    ("物流", "logistics"),
    ("信息技术", "it"),
    ("精密仪器", "manufacturing"),
]
SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈"
)
GIVEN = [
    "伟",
    "芳",
    "娜",
    "敏",
    "静",
    "丽",
    "强",
    "磊",
    "军",
    "洋",
    "勇",
    "艳",
    "杰",
    "娟",
    "涛",
    "明",
    "超",
    "秀英",
    "霞",
    "平",
    "刚",
    "桂英",
    "建华",
    "晓东",
    "海燕",
    "志强",
    "文博",
    "雨萱",
    "子涵",
    "浩然",
]
TITLES = ["总经理", "采购经理", "技术总监", "财务主管", "采购专员", "副总经理", "项目经理", "行政主管"]
SUBJECTS = [
    "首次拜访，介绍公司产品",
    "电话沟通采购需求",
    "发送产品资料和报价",
    "技术交流会",
    "商务谈判",
    "回访使用情况",
    "节日问候",
    "确认交货时间",
    "了解新项目计划",
    "处理客户投诉",
]


@transaction.atomic
def load(count: int = 300, seed: int = 20261123):
    from kehu.accounts.models import User

    from .models import Activity, Contact, Customer, Tag, month_day
    from .normalize import normalize_company_name, normalize_phone, pinyin_initials

    if Customer.objects.exists():
        return
    rng = random.Random(seed)
    users = {
        u.username: u
        for u in User.objects.filter(username__in=["manager", "manager2", "supervisor", "admin"])
    }
    owners = (
        [users.get("manager")] * 5 + [users.get("manager2")] * 4 + [users.get("supervisor")] * 2 + [None] * 2
    )
    d = {(e.type, e.code): e for e in DictEntry.objects.all()}
    levels = ["vip", "key", "major", "normal", "normal", "normal", "partner"]
    sources = ["phone", "web", "referral", "exhibition", "ad", "partner"]
    kinds = ["visit", "call", "call", "email", "wechat"]
    tags = [
        Tag.objects.get_or_create(name=n)[0] for n in ["老客户", "政府项目", "高潜力", "价格敏感", "需要发票"]
    ]
    now = timezone.now()
    from kehu.core.numbering import next_number

    seen = set()
    customers = []
    for i in range(count):
        city = rng.choice(CITIES)
        if i % 12 == 11:
            name = rng.choice(SURNAMES) + rng.choice(GIVEN)
            kind, industry, trade = Customer.Kind.INDIVIDUAL, None, ""
        else:
            word = rng.choice(WORDS)
            trade, ind = rng.choice(TRADES)
            name = f"{city}{word}{trade}有限公司"
            kind, industry = Customer.Kind.COMPANY, d.get(("industry", ind))
        if normalize_company_name(name) in seen:
            name = name.replace("有限公司", f"{rng.choice(['第二', '华东', '华南', '北方'])}分公司")
            if normalize_company_name(name) in seen:
                continue
        seen.add(normalize_company_name(name))
        status = rng.choices(["prospect", "signed", "dormant", "lost"], [45, 40, 10, 5])[0]
        owner = rng.choice(owners)
        created = now - timedelta(days=rng.randint(5, 700))
        phone = f"0{rng.randint(10, 29)}-{rng.randint(60000000, 89999999)}"
        c = Customer(
            number=next_number("customer", on=timezone.localdate(created)),
            kind=kind,
            name=name,
            short_name=name.replace(city, "").replace("有限公司", "")[:10] if kind == "company" else "",
            level=d.get(("customer_level", rng.choice(levels))),
            region=d.get(("region", REGION_OF[city])),
            industry=industry,
            source=d.get(("customer_source", rng.choice(sources))),
            status=status,
            stage=rng.randint(1, 5) if status == "prospect" else None,
            credit_rating=rng.randint(2, 5),
            satisfaction=rng.randint(2, 5) if status != "prospect" else None,
            owner=owner,
            address=f"{city}市{rng.choice(['高新区', '经开区', '朝阳区', '浦东新区', '天河区'])}"
            f"{rng.choice(['科技路', '创业大道', '人民路', '建设路'])}{rng.randint(1, 300)}号",
            phone=phone,
            postcode=f"{rng.randint(100000, 850000)}",
            legal_representative=rng.choice(SURNAMES) + rng.choice(GIVEN) if kind == "company" else "",
            registered_capital=Decimal(rng.choice([50, 100, 500, 1000, 3000])) if kind == "company" else None,
            annual_revenue=Decimal(rng.randint(100, 50000)) if kind == "company" else None,
            tax_number=f"91{rng.randint(110000, 659999)}MA{rng.randint(10000000, 99999999)}"
            if kind == "company"
            else "",
            birthday=(now - timedelta(days=rng.randint(25 * 365, 60 * 365))).date()
            if kind == "individual"
            else None,
            created_by=owner or users.get("admin"),
            assigned_at=created if owner else None,
        )
        c.name_key = normalize_company_name(c.name)
        c.pinyin = pinyin_initials(c.name)
        c.pinyin_short = pinyin_initials(c.short_name) if c.short_name else ""
        c.phone_key = normalize_phone(c.phone)
        c.birthday_md = month_day(c.birthday)
        customers.append((c, created))
    Customer.objects.bulk_create([c for c, _ in customers], batch_size=500)
    for c, created in customers:
        Customer.objects.filter(pk=c.pk).update(created_at=created)
        if rng.random() < 0.4:
            c.tags.add(*rng.sample(tags, rng.randint(1, 2)))
    contacts = []
    for c, _created in customers:
        for j in range(1 if c.kind == "individual" else rng.randint(1, 4)):
            person = c.name if c.kind == "individual" else rng.choice(SURNAMES) + rng.choice(GIVEN)
            mobile = f"1{rng.choice('3589')}{rng.randint(100000000, 999999999)}"
            birthday = (now - timedelta(days=rng.randint(25 * 365, 55 * 365))).date()
            contacts.append(
                Contact(
                    customer=c,
                    name=person,
                    gender=rng.choice("mf"),
                    title="" if c.kind == "individual" else rng.choice(TITLES),
                    mobile=mobile,
                    mobile_key=normalize_phone(mobile),
                    email=f"contact{c.pk}_{j}@example.cn",
                    wechat=f"wx_{c.pk}_{j}",
                    birthday=birthday,
                    birthday_md=month_day(birthday),
                    is_primary=j == 0,
                )
            )
    Contact.objects.bulk_create(contacts, batch_size=1000)
    by_customer = {}
    for ct in contacts:
        by_customer.setdefault(ct.customer_id, []).append(ct)
    activities = []
    for c, created in customers:
        author = c.owner or users.get("supervisor")
        if author is None:
            continue
        n = rng.randint(0, 8)
        times = sorted(
            now - timedelta(days=rng.randint(0, max(1, (now - created).days)), hours=rng.randint(0, 9))
            for _ in range(n)
        )
        for k, when in enumerate(times):
            follow = (
                (when + timedelta(days=rng.randint(1, 14))).date()
                if k == n - 1 and rng.random() < 0.6
                else None
            )
            activities.append(
                Activity(
                    customer=c,
                    contact=rng.choice(by_customer.get(c.pk, [None])),
                    kind=d[("activity_type", rng.choice(kinds))],
                    happened_at=when,
                    subject=rng.choice(SUBJECTS),
                    summary="客户反馈积极，约定下次沟通时间。",
                    place=c.address[:30] if rng.random() < 0.3 else "",
                    next_follow_up=follow,
                    author=author,
                )
            )
        if times:
            Customer.objects.filter(pk=c.pk).update(last_activity_at=times[-1])
    Activity.objects.bulk_create(activities, batch_size=1000)
