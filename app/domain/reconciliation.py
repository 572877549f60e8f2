"""Reconciliation (对账): a channel's daily bill matched against our own books, line by line.

Pure rules: both sides come in as Entries (a payment, or a refund when ``out_refund_no`` is set);
out comes one Finding per payment or refund. Payments are matched by out_trade_no, refunds by
out_refund_no. Our side counts only what falls on the bill's day in China (Asia/Shanghai); the
bill's rows are that day's by definition.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum

from app.domain.clock import CHINA_TZ
from app.domain.money import fen_to_yuan


class FindingKind(StrEnum):
    """What matching one payment or refund found."""

    MATCHED = "matched"
    MISSING_HERE = "missing_here"  # in the channel's bill, not in our books that day
    MISSING_THERE = "missing_there"  # in our books that day, not in the channel's bill
    AMOUNT_MISMATCH = "amount_mismatch"  # on both sides, for different amounts


class ReconciliationStatus(StrEnum):
    """A day's reconciliation of one channel: done, or failed (the bill could not be had)."""

    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class Entry:
    """A payment (``out_refund_no`` None) or a refund, as one side records it; ``at`` is aware:
    when it was paid, or when the refund went back."""

    out_trade_no: str
    amount_fen: int
    at: datetime
    out_refund_no: str | None = None
    provider_no: str | None = None  # the channel's transaction or refund number

    @property
    def is_refund(self) -> bool:
        return self.out_refund_no is not None

    @property
    def key(self) -> tuple[str, str]:
        return ("refund", self.out_refund_no) if self.is_refund else ("payment", self.out_trade_no)


@dataclass(frozen=True)
class Finding:
    """One payment or refund and how the two sides agree about it."""

    kind: FindingKind
    here: Entry | None
    there: Entry | None

    @property
    def entry(self) -> Entry:
        return self.there or self.here

    @property
    def is_refund(self) -> bool:
        return self.entry.is_refund

    @property
    def out_trade_no(self) -> str:
        return self.entry.out_trade_no

    @property
    def out_refund_no(self) -> str | None:
        return self.entry.out_refund_no

    @property
    def amount_here_fen(self) -> int | None:
        return None if self.here is None else self.here.amount_fen

    @property
    def amount_there_fen(self) -> int | None:
        return None if self.there is None else self.there.amount_fen

    @property
    def note(self) -> str:
        """What staff read on the admin page."""
        what = "退款" if self.is_refund else "支付"
        if self.kind == FindingKind.MATCHED:
            return "一致"
        if self.kind == FindingKind.MISSING_HERE:
            return f"渠道账单有此{what}（¥{fen_to_yuan(self.there.amount_fen)}），本院当日无记录"
        if self.kind == FindingKind.MISSING_THERE:
            return f"本院当日记为{what}成功（¥{fen_to_yuan(self.here.amount_fen)}），渠道账单无此笔"
        return (
            f"{what}金额不符：本院 ¥{fen_to_yuan(self.here.amount_fen)}，"
            f"渠道 ¥{fen_to_yuan(self.there.amount_fen)}"
        )


@dataclass(frozen=True)
class Report:
    """The findings of one day and channel, with the money on each side."""

    bill_date: date
    findings: list[Finding]
    paid_here_fen: int
    refunded_here_fen: int
    paid_there_fen: int
    refunded_there_fen: int
    counts: dict[FindingKind, int] = field(default_factory=dict)

    @property
    def discrepancies(self) -> list[Finding]:
        return [finding for finding in self.findings if finding.kind != FindingKind.MATCHED]


def day_window(bill_date: date) -> tuple[datetime, datetime]:
    """The bill's day in China as [start, end), aware."""
    start = datetime.combine(bill_date, time(0), tzinfo=CHINA_TZ)
    return start, datetime.combine(bill_date + timedelta(days=1), time(0), tzinfo=CHINA_TZ)


def on_day(moment: datetime, bill_date: date) -> bool:
    """Whether ``moment`` (aware) falls on ``bill_date`` in China."""
    if moment.tzinfo is None:
        raise ValueError("reconciliation needs aware datetimes")
    start, end = day_window(bill_date)
    return start <= moment < end


def reconcile(bill_date: date, ours: Iterable[Entry], theirs: Iterable[Entry]) -> Report:
    """Match our payments and refunds of ``bill_date`` against the channel's bill of that day.

    Each of our entries is matched at most once; a second bill row for the same key (which a
    channel should never send) is therefore missing here. Findings come in bill order, then ours
    left over, each in time order.
    """
    ours = sorted((e for e in ours if on_day(e.at, bill_date)), key=lambda e: (e.at, e.key))
    theirs = sorted(theirs, key=lambda e: (e.at, e.key))
    waiting: dict[tuple[str, str], Entry] = {}
    twice: list[Entry] = []  # a key we hold twice (our unique keys forbid it): never matched
    for entry in ours:
        if entry.key in waiting:
            twice.append(entry)
        else:
            waiting[entry.key] = entry
    findings = []
    for there in theirs:
        here = waiting.pop(there.key, None)
        if here is None:
            kind = FindingKind.MISSING_HERE
        elif here.amount_fen != there.amount_fen:
            kind = FindingKind.AMOUNT_MISMATCH
        else:
            kind = FindingKind.MATCHED
        findings.append(Finding(kind, here, there))
    left = sorted([*waiting.values(), *twice], key=lambda e: (e.at, e.key))
    findings += [Finding(FindingKind.MISSING_THERE, here, None) for here in left]
    counts = dict.fromkeys(FindingKind, 0)
    for finding in findings:
        counts[finding.kind] += 1
    return Report(
        bill_date=bill_date,
        findings=findings,
        paid_here_fen=sum(e.amount_fen for e in ours if not e.is_refund),
        refunded_here_fen=sum(e.amount_fen for e in ours if e.is_refund),
        paid_there_fen=sum(e.amount_fen for e in theirs if not e.is_refund),
        refunded_there_fen=sum(e.amount_fen for e in theirs if e.is_refund),
        counts=counts,
    )
