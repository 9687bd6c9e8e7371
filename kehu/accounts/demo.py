"""Demo departments and one user per role (password kehu-demo)."""

from __future__ import annotations

from django.db import transaction

from kehu.core.demo import DEMO_PASSWORD

from .models import Department, Role, User

DEPARTMENTS = [
    # code, name, parent code, head username
    ("HQ", "总经理办公室", None, "executive"),
    ("SALES", "销售部", "HQ", "supervisor"),
    ("SALES-E", "华东销售组", "SALES", None),
    ("CHANNEL", "渠道销售部", "HQ", None),
    ("WH", "仓储物流部", "HQ", "warehouse"),
    ("FIN", "财务部", "HQ", "finance"),
    ("SVC", "客户服务部", "HQ", "service"),
    ("IT", "信息技术部", "HQ", "admin"),
]

USERS = [
    # username, full name, department, manager, role, e-mail, mobile
    ("admin", "张伟", "IT", "executive", "administrator", "admin@kehu-demo.cn", "13800000001"),
    ("executive", "陈静", "HQ", None, "executive", "chenjing@kehu-demo.cn", "13800000002"),
    ("supervisor", "李娜", "SALES", "executive", "supervisor", "lina@kehu-demo.cn", "13800000003"),
    ("manager", "王强", "SALES", "supervisor", "account_manager", "wangqiang@kehu-demo.cn", "13800000004"),
    ("manager2", "刘洋", "CHANNEL", "executive", "account_manager", "liuyang@kehu-demo.cn", "13800000005"),
    ("warehouse", "赵磊", "WH", "executive", "warehouse_keeper", "zhaolei@kehu-demo.cn", "13800000006"),
    ("finance", "孙丽", "FIN", "executive", "finance_clerk", "sunli@kehu-demo.cn", "13800000007"),
    ("service", "周杰", "SVC", "executive", "service_agent", "zhoujie@kehu-demo.cn", "13800000008"),
]

DEMO_LOGINS = [(u[0], u[4]) for u in USERS]


@transaction.atomic
def load():
    depts = {}
    for code, name, parent, _head in DEPARTMENTS:
        dept, _ = Department.objects.get_or_create(code=code, defaults={"name": name})
        if parent:
            dept.parent = depts[parent]
            dept.save(update_fields=["parent"])
        depts[code] = dept
    users = {}
    roles = {r.code: r for r in Role.objects.all()}
    for username, full_name, dept, _mgr, role, email, phone in USERS:
        user = User.objects.filter(username=username).first()
        if user is None:
            user = User(
                username=username, full_name=full_name, email=email, phone=phone, department=depts[dept]
            )
            user.set_password(DEMO_PASSWORD)
            user.save()
            user.roles.add(roles[role])
        users[username] = user
    for username, *_rest in USERS:
        mgr = next(u[3] for u in USERS if u[0] == username)
        if mgr and users[username].manager_id is None:
            users[username].manager = users[mgr]
            users[username].save(update_fields=["manager"])
    for code, _name, _parent, head in DEPARTMENTS:
        if head and depts[code].head_id is None:
            depts[code].head = users[head]
            depts[code].save(update_fields=["head"])
