"""Document numbers (单据编号): one service for every document type.

A pattern mixes literal text with tokens: ``{yyyy}`` ``{yy}`` ``{MM}`` ``{dd}`` and the
combinations ``{yyyyMMdd}`` ``{yyMMdd}`` ``{yyyyMM}`` ``{yyMM}``, and exactly one ``{seq:N}`` (N digits,
1–10).  The sequence restarts whenever the date part of the pattern changes: a pattern with a day
restarts daily, with only a month monthly, with no date never.  Numbers are issued inside the
caller's transaction from a locked counter row, so they are unique and, per period, gap-free: a
rolled-back document gives its number back.
"""

from __future__ import annotations

import re
from datetime import date

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from kehu.core.errors import ValidationFailed
from kehu.core.models import NumberCounter, NumberingRule
from kehu.core.registry import registry

TOKEN_RE = re.compile(r"\{([^{}]*)\}")
DATE_TOKENS = {
    "yyyy": "%Y",
    "yy": "%y",
    "MM": "%m",
    "dd": "%d",
    "yyyyMMdd": "%Y%m%d",
    "yyMMdd": "%y%m%d",
    "yyyyMM": "%Y%m",
    "yyMM": "%y%m",
}
SEQ_RE = re.compile(r"^seq:(\d{1,2})$")


def validate_pattern(pattern: str) -> None:
    if not pattern or len(pattern) > 60:
        raise ValidationFailed(_("A pattern must have 1 to 60 characters."), details={"field": "pattern"})
    seqs = 0
    for token in TOKEN_RE.findall(pattern):
        m = SEQ_RE.match(token)
        if m:
            seqs += 1
            if not 1 <= int(m.group(1)) <= 10:
                raise ValidationFailed(
                    _("The sequence must have 1 to 10 digits."), details={"field": "pattern"}
                )
        elif token not in DATE_TOKENS:
            raise ValidationFailed(
                _("Unknown token {%(token)s} in the pattern.") % {"token": token},
                details={"field": "pattern"},
            )
    if seqs != 1:
        raise ValidationFailed(_("The pattern needs exactly one {seq:N}."), details={"field": "pattern"})
    if TOKEN_RE.sub("", pattern).count("{") or TOKEN_RE.sub("", pattern).count("}"):
        raise ValidationFailed(_("The pattern has an unmatched brace."), details={"field": "pattern"})


def _period(pattern: str, day: date) -> str:
    """The counter's period: the finest date unit in the pattern, however it is spelled
    (``{yyyyMMdd}`` and ``{yyyy}{MM}{dd}`` share one daily counter)."""
    tokens = [t for t in TOKEN_RE.findall(pattern) if t in DATE_TOKENS]
    if any("dd" in t for t in tokens):
        return day.strftime("%Y%m%d")
    if any("MM" in t for t in tokens):
        return day.strftime("%Y%m")
    if tokens:
        return day.strftime("%Y")
    return "-"


def render(pattern: str, day: date, seq: int) -> str:
    def repl(m: re.Match) -> str:
        token = m.group(1)
        if token in DATE_TOKENS:
            return day.strftime(DATE_TOKENS[token])
        width = int(SEQ_RE.match(token).group(1))
        return str(seq).zfill(width)

    return TOKEN_RE.sub(repl, pattern)


def ensure_rule(doc_type: str) -> NumberingRule:
    try:
        return NumberingRule.objects.get(doc_type=doc_type)
    except NumberingRule.DoesNotExist:
        if doc_type not in registry.document_types:
            raise ValidationFailed(_("Unknown document type %(type)s.") % {"type": doc_type})
        NumberingRule.objects.bulk_create(
            [NumberingRule(doc_type=doc_type, pattern=registry.document_types[doc_type][1])],
            ignore_conflicts=True,
        )
        return NumberingRule.objects.get(doc_type=doc_type)


def next_number(doc_type: str, *, on: date | None = None) -> str:
    """Issue the next number of ``doc_type``.  Call it inside the transaction that saves the
    document; the counter row stays locked until that transaction ends."""
    day = on or timezone.localdate()
    with transaction.atomic():
        rule = ensure_rule(doc_type)
        period = _period(rule.pattern, day)
        NumberCounter.objects.bulk_create(
            [NumberCounter(rule=rule, period=period, last=0)], ignore_conflicts=True
        )
        counter = NumberCounter.objects.select_for_update().get(rule=rule, period=period)
        counter.last += 1
        counter.save(update_fields=["last"])
        return render(rule.pattern, day, counter.last)


def reserve_numbers(doc_type: str, count: int, on: date | None = None) -> list[str]:
    """Issue ``count`` consecutive numbers of ``doc_type`` with one locked counter update (bulk
    imports: a hundred thousand ``next_number`` calls would take minutes).  Same rules as
    :func:`next_number`: call it inside the transaction that saves the documents, so a rollback gives
    the whole block back and the numbers stay gap-free."""
    if count <= 0:
        return []
    day = on or timezone.localdate()
    with transaction.atomic():
        rule = ensure_rule(doc_type)
        period = _period(rule.pattern, day)
        NumberCounter.objects.bulk_create(
            [NumberCounter(rule=rule, period=period, last=0)], ignore_conflicts=True
        )
        counter = NumberCounter.objects.select_for_update().get(rule=rule, period=period)
        first = counter.last + 1
        counter.last += count
        counter.save(update_fields=["last"])
    # Render the date part once; only the sequence changes from number to number.
    seq_token = next(t for t in TOKEN_RE.findall(rule.pattern) if SEQ_RE.match(t))
    width = int(SEQ_RE.match(seq_token).group(1))
    head, _token, tail = rule.pattern.partition("{" + seq_token + "}")
    head = render(head, day, 0) if head else ""
    tail = render(tail, day, 0) if tail else ""
    return [f"{head}{str(seq).zfill(width)}{tail}" for seq in range(first, first + count)]


def preview(pattern: str, *, on: date | None = None) -> str:
    validate_pattern(pattern)
    return render(pattern, on or timezone.localdate(), 1)
