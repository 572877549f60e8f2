"""Reconciliation (对账): each channel's bill of a day matched against our payments and refunds.

The bill is downloaded through the channel's adapter (app/integrations/channels.py), which
verifies it (WeChat Pay's SHA1; a bill that does not verify raises). The day's result is stored
per channel for the admin page and replaced when the day is run again. Money the channel took
for no payment of ours goes back in full, automatically; a payment of ours the channel shows paid
while we still wait for it is checked with the channel (which books the order or refunds it);
everything else is for staff.
"""

import logging
from dataclasses import dataclass, field
from datetime import date, time, timedelta

import sqlalchemy as sa

from app.domain import clock
from app.domain import reconciliation as rules
from app.domain.payments import PaymentChannel, PaymentStatus, RefundStatus, is_ours
from app.domain.reconciliation import Entry, Finding, FindingKind, ReconciliationStatus
from app.extensions import db
from app.infra import queue
from app.integrations import channels
from app.models import Payment, Reconciliation, ReconciliationItem, Refund
from app.services.payments import refunds
from app.services.transaction import lock_one, transaction

log = logging.getLogger(__name__)

# Both channels have the previous day's bill ready by then (WeChat Pay after 10:00, Alipay 9:00).
BILLS_READY_AT = time(10, 0)
NOTE_LENGTH = 255
REFUND_STATUS_LABELS = {
    RefundStatus.PENDING: "待发送",
    RefundStatus.PROCESSING: "处理中",
    RefundStatus.SUCCESS: "成功",
    RefundStatus.FAILED: "失败",
}


class BillUnavailable(Exception):
    """The channel has no bill for a day on which we recorded money: not made yet, or the
    difference is the whole day. Raised so the job is tried again."""


@dataclass
class _Actions:
    """What reconciling did about the differences: a note per finding, payments to check."""

    notes: list[str] = field(default_factory=list)  # one per discrepancy, in order
    to_check: list[int] = field(default_factory=list)  # payment ids


# --- The day of one channel ------------------------------------------------------------------


def reconcile(channel, bill_date: date) -> Reconciliation:
    """Reconcile one channel's bill of ``bill_date`` (China) with our books and store the result.

    A bill that cannot be had (unreachable, does not verify, absent while we recorded money) is
    stored as a failed reconciliation with the error, and the error is raised again (RQ retries).
    """
    channel = PaymentChannel(channel)
    try:
        theirs = channels.channel(channel).bill(bill_date)
    except channels.ChannelError as error:
        _store_failure(channel, bill_date, error)
        raise
    ours = _our_entries(channel, bill_date)
    if theirs is None:
        if ours:
            error = BillUnavailable(f"渠道无 {bill_date} 的账单，本院当日有 {len(ours)} 笔记录")
            _store_failure(channel, bill_date, error)
            raise error
        theirs = []
    report = rules.reconcile(bill_date, ours, theirs)
    actions = _act_on(channel, report.discrepancies)
    result = _store(channel, bill_date, report, actions)
    for payment_id in actions.to_check:
        queue.enqueue_quietly("workers.payments.check_payment", payment_id)
    log.info(
        "reconciled %s %s: %s",
        channel,
        bill_date,
        {kind.value: count for kind, count in report.counts.items()},
    )
    return result


def reconcile_yesterday(now=None) -> list[Reconciliation]:
    """Reconcile yesterday (China) for both channels once their bills are ready (10:00); a channel
    whose day is already done is left alone, so running this every hour does each day once."""
    now = clock.to_china(now or clock.now())
    if now.time() < BILLS_READY_AT:
        return []
    bill_date = now.date() - timedelta(days=1)
    done = set(
        db.session.scalars(
            sa.select(Reconciliation.channel).where(
                Reconciliation.bill_date == bill_date,
                Reconciliation.status == ReconciliationStatus.DONE,
            )
        )
    )
    db.session.rollback()
    results, failure = [], None
    for channel in PaymentChannel:
        if channel in done:
            continue
        try:
            results.append(reconcile(channel, bill_date))
        except Exception as error:  # the other channel still gets its turn; then fail the job
            log.error("reconciliation of %s %s failed: %s", channel, bill_date, error)
            failure = failure or error
    if failure is not None:
        raise failure
    return results


# --- The two sides ---------------------------------------------------------------------------


def _our_entries(channel, bill_date) -> list[Entry]:
    """Our payments paid, and refunds that went back, on ``bill_date`` through ``channel``.

    Payments recorded by reconciliation itself (no order) are left out: they are not our books,
    so the day keeps showing them as missing here, with the refund that answered them.
    """
    start, end = rules.day_window(bill_date)
    paid = db.session.execute(
        sa.select(
            Payment.out_trade_no, Payment.amount_fen, Payment.paid_at, Payment.provider_trade_no
        ).where(
            Payment.channel == channel,
            Payment.status == PaymentStatus.PAID,
            Payment.order_id.is_not(None),
            Payment.paid_at >= start,
            Payment.paid_at < end,
        )
    ).all()
    refunded = db.session.execute(
        sa.select(
            Payment.out_trade_no,
            Refund.amount_fen,
            Refund.succeeded_at,
            Refund.out_refund_no,
            Refund.provider_refund_no,
        )
        .join(Payment, Payment.id == Refund.payment_id)
        .where(
            Payment.channel == channel,
            Refund.status == RefundStatus.SUCCESS,
            Refund.succeeded_at >= start,
            Refund.succeeded_at < end,
        )
    ).all()
    db.session.rollback()
    return [Entry(row[0], row[1], row[2], provider_no=row[3]) for row in paid] + [
        Entry(row[0], row[1], row[2], out_refund_no=row[3], provider_no=row[4]) for row in refunded
    ]


# --- Acting on the differences ---------------------------------------------------------------


def _act_on(channel, discrepancies: list[Finding]) -> _Actions:
    """Refund money taken for no payment of ours; have payments we still wait for checked; say
    in each finding's note what we know of it here."""
    actions = _Actions()
    missing = [f for f in discrepancies if f.kind == FindingKind.MISSING_HERE]
    trade_nos = {f.out_trade_no for f in missing if not f.is_refund}
    refund_nos = {f.out_refund_no for f in missing if f.is_refund}
    known_payments = {
        p.out_trade_no: p
        for p in db.session.execute(
            sa.select(
                Payment.id,
                Payment.out_trade_no,
                Payment.order_id,
                Payment.channel,
                Payment.status,
                Payment.paid_at,
            ).where(Payment.out_trade_no.in_(trade_nos))
        )
    }
    known_refunds = {
        r.out_refund_no: r
        for r in db.session.execute(
            sa.select(Refund.out_refund_no, Refund.status, Refund.succeeded_at).where(
                Refund.out_refund_no.in_(refund_nos)
            )
        )
    }
    db.session.rollback()
    for finding in discrepancies:
        extra = ""
        if finding.kind == FindingKind.MISSING_HERE and finding.is_refund:
            extra = _about_refund(known_refunds.get(finding.out_refund_no))
        elif finding.kind == FindingKind.MISSING_HERE:
            payment = known_payments.get(finding.out_trade_no)
            extra = _about_payment(channel, finding, payment)
            if payment and payment.channel == channel and payment.status == PaymentStatus.PENDING:
                actions.to_check.append(payment.id)
        elif finding.kind in (FindingKind.MISSING_THERE, FindingKind.AMOUNT_MISMATCH):
            extra = "，请人工核查"
        actions.notes.append((finding.note + extra)[:NOTE_LENGTH])
    return actions


def _about_payment(channel, finding: Finding, payment) -> str:
    if payment is None or payment.order_id is None:
        there = finding.there
        if not is_ours(there.out_trade_no, channel):
            # Perhaps the hospital's own window or kiosk sharing the merchant account: never
            # refund someone else's money automatically.
            return (
                "；该商户订单号不是本系统生成的（可能属于医院其他收费渠道），未自动退款，请人工处理"
            )
        if not _refundable_number(channel, there.out_trade_no):
            return "；其商户订单号不是本院格式，无法自动退款，请人工处理"
        refund = refunds.refund_unknown_payment(
            channel, there.out_trade_no, there.provider_no, there.amount_fen, paid_at=there.at
        )
        return f"；已自动全额退款（退款单号 {refund.out_refund_no}）"
    if payment.channel != channel:
        return f"；本院该单号属于另一支付渠道（{payment.channel.value}），请人工核查"
    if payment.status == PaymentStatus.PENDING:
        return "；本院支付尚未确认（可能漏收支付通知），已发起查单补记"
    if payment.status == PaymentStatus.PAID:
        paid_at = clock.to_china(payment.paid_at) if payment.paid_at else None
        return f"；本院记为 {paid_at:%Y-%m-%d %H:%M:%S} 支付成功" if paid_at else "；本院已记支付"
    return "；本院支付已关闭，渠道却已收款，请人工核查"


def _about_refund(refund) -> str:
    if refund is None:
        return "；本院无此退款单，请人工核查"
    if refund.status == RefundStatus.SUCCESS and refund.succeeded_at is not None:
        return f"；本院记为 {clock.to_china(refund.succeeded_at):%Y-%m-%d %H:%M:%S} 退款成功"
    return f"；本院退款状态：{REFUND_STATUS_LABELS[refund.status]}"


def _refundable_number(channel, out_trade_no) -> bool:
    """Whether we can record (payment.out_trade_no is 32 long) and refund this number."""
    pattern = channels.channel(channel).out_trade_no
    return len(out_trade_no) <= Payment.out_trade_no.type.length and bool(
        pattern.fullmatch(out_trade_no)
    )


# --- Storing the day -------------------------------------------------------------------------


def _day_row(channel, bill_date) -> Reconciliation:
    """The day's row, locked, or a new one (inside the caller's transaction)."""
    row = lock_one(
        sa.select(Reconciliation).where(
            Reconciliation.bill_date == bill_date, Reconciliation.channel == channel
        )
    )
    if row is None:
        row = Reconciliation(bill_date=bill_date, channel=channel)
        db.session.add(row)
    return row


def _store(channel, bill_date, report: rules.Report, actions: _Actions) -> Reconciliation:
    """Replace the day's result with ``report``; items staff marked resolved stay resolved."""
    with transaction():
        row = _day_row(channel, bill_date)
        resolved = {
            (item.kind, item.out_trade_no, item.out_refund_no)
            for item in row.items
            if item.resolved
        }
        row.items.clear()
        row.status = ReconciliationStatus.DONE
        row.error = ""
        for kind in FindingKind:
            setattr(row, f"{kind.value}_count", report.counts[kind])
        row.paid_here_fen, row.refunded_here_fen = report.paid_here_fen, report.refunded_here_fen
        row.paid_there_fen = report.paid_there_fen
        row.refunded_there_fen = report.refunded_there_fen
        for finding, note in zip(report.discrepancies, actions.notes, strict=True):
            key = (finding.kind, finding.out_trade_no, finding.out_refund_no)
            row.items.append(
                ReconciliationItem(
                    kind=finding.kind,
                    out_trade_no=finding.out_trade_no,
                    out_refund_no=finding.out_refund_no,
                    amount_here_fen=finding.amount_here_fen,
                    amount_there_fen=finding.amount_there_fen,
                    note=note,
                    resolved=key in resolved,
                )
            )
    return row


def _store_failure(channel, bill_date, error):
    """Record that the day could not be reconciled, and why (the last result is replaced)."""
    with transaction():
        row = _day_row(channel, bill_date)
        row.items.clear()
        row.status = ReconciliationStatus.FAILED
        row.error = f"{type(error).__name__}: {error}"[:NOTE_LENGTH]
        for kind in FindingKind:
            setattr(row, f"{kind.value}_count", 0)
        row.paid_here_fen = row.refunded_here_fen = 0
        row.paid_there_fen = row.refunded_there_fen = 0
