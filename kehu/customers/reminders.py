"""Reminders (提醒): birthdays, follow-ups due, supervisors' comments, visits and churn cases — on the
dashboard and as a daily digest e-mail."""

from __future__ import annotations

from datetime import date, timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone, translation

from .models import Activity, ChurnCase, Contact, Customer, FieldVisit, month_day
from .selectors import (
    activities_visible_to,
    churn_cases_visible_to,
)


def _birthday_q(field: str, today: date, days: int) -> Q:
    """Birthdays from today to ``days`` ahead, through the indexed month-day column."""
    days_ahead = [today + timedelta(days=i) for i in range(days + 1)]
    mds = [month_day(d) for d in days_ahead]
    leap = today.year % 4 == 0 and (today.year % 100 != 0 or today.year % 400 == 0)
    if not leap and 301 in mds:
        mds.append(229)  # born on 29 February: remembered on 1 March in other years
    return Q(**{f"{field}_md__in": mds})


def reminders_for(user, *, today: date | None = None, days: int = 7, limit: int = 20) -> dict:
    today = today or timezone.localdate()
    # The user's own customers are always in their scope: no scope filter needed for these two,
    # and only the columns the cards show (the dashboard runs this on every visit).
    birthdays_contacts = list(
        Contact.objects.active()
        .filter(customer__owner=user, customer__archived_at__isnull=True)
        .filter(_birthday_q("birthday", today, days))
        .select_related("customer")
        .only("name", "birthday", "customer__name")
        .order_by("name")[:limit]
    )
    birthdays_customers = list(
        Customer.objects.active()
        .filter(owner=user, kind=Customer.Kind.INDIVIDUAL)
        .filter(_birthday_q("birthday", today, days))
        .only("name", "birthday")
        .order_by("name")[:limit]
    )
    follow_ups = list(
        activities_visible_to(user)
        .filter(
            author=user,
            next_follow_up__isnull=False,
            next_follow_up__lte=today,
            next_follow_up__gte=today - timedelta(days=30),
        )
        .exclude(customer__activities__happened_at__date__gte=models_F_next_follow_up())
        .order_by("next_follow_up")[:limit]
    )
    comments = list(
        Activity.objects.filter(author=user, commented_at__isnull=False, comment_read_at__isnull=True)
        .select_related("customer", "commented_by")
        .order_by("-commented_at")[:limit]
    )
    visits = list(
        FieldVisit.objects.filter(user=user, status=FieldVisit.Status.PLANNED, planned_on__lte=today)
        .select_related("customer")
        .order_by("planned_on")[:limit]
    )
    churn = list(
        churn_cases_visible_to(user).filter(status=ChurnCase.Status.OPEN).order_by("-opened_at")[:limit]
    )

    def upcoming(b: date) -> date:
        try:
            d = b.replace(year=today.year)
        except ValueError:  # 29 February
            d = date(today.year, 3, 1)
        return d if d >= today else d.replace(year=today.year + 1)

    birthdays = sorted(
        [
            {
                "name": c.name,
                "of": c.customer.name,
                "date": upcoming(c.birthday),
                "url": c.customer.get_absolute_url(),
            }
            for c in birthdays_contacts
        ]
        + [
            {"name": c.name, "of": "", "date": upcoming(c.birthday), "url": c.get_absolute_url()}
            for c in birthdays_customers
        ],
        key=lambda b: b["date"],
    )
    return {
        "birthdays": birthdays,
        "follow_ups": follow_ups,
        "comments": comments,
        "visits": visits,
        "churn": churn,
        "today": today,
        "count": len(birthdays) + len(follow_ups) + len(comments) + len(visits) + len(churn),
    }


def models_F_next_follow_up():
    from django.db.models import F

    return F("next_follow_up")


def send_daily_digests(*, today: date | None = None) -> int:
    from kehu.accounts.models import User

    sent = 0
    for user in User.objects.filter(is_active=True).exclude(email="").prefetch_related("roles"):
        if not user.has_right("customers.view"):
            continue
        data = reminders_for(user, today=today)
        if not data["count"]:
            continue
        lang = user.language or settings.LANGUAGE_CODE
        with translation.override(lang):
            subject = render_to_string("customers/digest_subject.txt", {"user": user, **data}).strip()
            body = render_to_string("customers/digest_email.txt", {"user": user, **data})
        send_mail(subject, body, None, [user.email])
        sent += 1
    return sent


__all__ = ["reminders_for", "send_daily_digests", "Contact"]
