"""Reconciliation against bills handed in through the adapters' functions: what a bill row counts
as, days without a bill, money we cannot refund ourselves, the day's edge in our books, and the
refund of unknown money recorded once. (Bills from the real stand-ins: tests/e2e.)"""

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa

from app.domain import clock
from app.domain.payments import PaymentChannel, PaymentStatus, RefundReason
from app.domain.reconciliation import FindingKind, ReconciliationStatus
from app.extensions import db
from app.integrations import alipay, wechatpay
from app.models import Payment, Reconciliation, Refund
from app.services import reconciliation
from app.services.booking import holds
from app.services.payments import refunds
from tests.factories import make_schedule
from tests.integration.committed import make_patients, see_committed

DAY = clock.business_date(clock.now()) - timedelta(days=1)
NOON = datetime.combine(DAY, datetime.min.time(), tzinfo=clock.CHINA_TZ) + timedelta(hours=12)
_numbers = iter(range(1, 10_000))


def paid_payment(channel, paid_at=NOON, amount_fen=5000):
    """An order of ours paid through ``channel`` at ``paid_at``: its out_trade_no."""
    schedule = make_schedule(on=clock.business_date(clock.now()) + timedelta(days=2))
    db.session.commit()
    ((account_id, patient_id),) = make_patients(1)
    order, _ = holds.hold_slot(account_id, schedule.id, patient_id, f"rec-{next(_numbers)}")
    out_trade_no = f"BK{order.id}X{next(_numbers):04d}"
    db.session.add(
        Payment(
            order_id=order.id,
            channel=channel,
            out_trade_no=out_trade_no,
            amount_fen=amount_fen,
            status=PaymentStatus.PAID,
            expires_at=paid_at,
            provider_trade_no="P" + out_trade_no,
            paid_at=paid_at,
        )
    )
    db.session.commit()
    return out_trade_no


def wechat_row(out_trade_no, fen, *, at=NOON, order_fen=None, refund=None, refund_status=None):
    """A WeChat Pay ALL-bill row: a payment, or (``refund`` = out_refund_no) a refund."""
    return wechatpay.BillRow(
        trade_time=at,
        appid="wx-app",
        mchid="1900000001",
        transaction_id="4200" + out_trade_no,
        out_trade_no=out_trade_no,
        openid="o-payer",
        trade_type="JSAPI",
        trade_status="REFUND" if refund else "SUCCESS",
        currency="CNY",
        amount_fen=0 if refund else fen,
        order_amount_fen=0 if refund else (fen if order_fen is None else order_fen),
        refund_id="50" + refund if refund else None,
        out_refund_no=refund,
        refund_fen=fen if refund else 0,
        refund_requested_fen=fen if refund else 0,
        refund_type="ORIGINAL" if refund else None,
        refund_status=refund_status,
        description="挂号费",
        attach="",
        fee_fen=0,
        fee_rate="0.60%",
    )


def serve_wechat_bill(monkeypatch, rows):
    summary = None if rows is None else wechatpay.BillSummary(len(rows), 0, 0, 0, 0, 0)
    bill = wechatpay.TradeBill(DAY, rows or [], summary)
    monkeypatch.setattr(wechatpay, "trade_bill", lambda day: bill if day == DAY else None)


def serve_alipay_bill(monkeypatch, rows):
    def trade_bill(day):
        assert day == DAY
        if rows is None:
            raise alipay.AlipayRejected("40004", "isp.bill_not_exist", "账单不存在")
        return rows

    monkeypatch.setattr(alipay, "trade_bill", trade_bill)


def stored(channel):
    see_committed()
    return db.session.scalar(
        sa.select(Reconciliation).where(
            Reconciliation.bill_date == DAY, Reconciliation.channel == channel
        )
    )


def test_what_a_wechat_bill_row_counts_as(committed, monkeypatch):
    coupon = paid_payment("wechat", amount_fen=5000)
    plain = paid_payment("wechat", amount_fen=3000)
    serve_wechat_bill(
        monkeypatch,
        [
            # Paid 50.00 of which a 2.00 merchant coupon: settled 48.00, our amount is the order's.
            wechat_row(coupon, 4800, order_fen=5000),
            wechat_row(plain, 3000),
            # A refund still processing moved no money yet: not the day's.
            wechat_row(plain, 1000, refund="RF-processing", refund_status="PROCESSING"),
        ],
    )

    reconciliation.reconcile("wechat", DAY)

    row = stored("wechat")
    assert row.status == ReconciliationStatus.DONE
    assert [row.count_of(kind) for kind in FindingKind] == [2, 0, 0, 0]
    assert (row.paid_here_fen, row.paid_there_fen) == (8000, 8000)
    assert (row.refunded_here_fen, row.refunded_there_fen) == (0, 0)
    assert row.items == []


def test_a_day_without_a_bill_while_we_took_money_fails_and_is_tried_again(committed, monkeypatch):
    paid_payment("alipay")
    serve_alipay_bill(monkeypatch, None)

    with pytest.raises(reconciliation.BillUnavailable):
        reconciliation.reconcile("alipay", DAY)

    row = stored("alipay")
    assert row.status == ReconciliationStatus.FAILED
    assert "本院当日有 1 笔记录" in row.error


def test_a_day_without_a_bill_or_money_is_done_and_empty(committed, monkeypatch):
    serve_wechat_bill(monkeypatch, None)
    serve_alipay_bill(monkeypatch, None)

    reconciliation.reconcile("wechat", DAY)
    reconciliation.reconcile("alipay", DAY)

    for channel in ("wechat", "alipay"):
        row = stored(channel)
        assert row.status == ReconciliationStatus.DONE and row.error == ""
        assert {row.count_of(kind) for kind in FindingKind} == {0}


def test_a_payment_of_ours_paid_the_evening_before_is_not_refunded(committed, monkeypatch):
    """Our books put it on the day before (23:59:59 in China); the bill on the day itself."""
    evening = NOON - timedelta(hours=12, seconds=1)
    out_trade_no = paid_payment("alipay", paid_at=evening)
    row = alipay.BillRow(out_trade_no, "2026P" + out_trade_no, "payment", 5000, NOON, None)
    serve_alipay_bill(monkeypatch, [row])

    reconciliation.reconcile("alipay", DAY)

    [item] = stored("alipay").items
    assert (item.kind, item.out_trade_no) == (FindingKind.MISSING_HERE, out_trade_no)
    assert item.note.endswith(f"本院记为 {evening:%Y-%m-%d} 23:59:59 支付成功")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 0


def test_unknown_money_under_a_number_we_cannot_hold_is_left_to_staff(committed, monkeypatch):
    too_long = "T" * 40  # Alipay allows 64; our payments hold 32
    row = alipay.BillRow(too_long, "2026P1", "payment", 800, NOON, None)
    serve_alipay_bill(monkeypatch, [row])

    reconciliation.reconcile("alipay", DAY)

    [item] = stored("alipay").items
    assert item.kind == FindingKind.MISSING_HERE and "请人工处理" in item.note
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0


def test_money_under_another_cashiers_number_is_never_refunded_automatically(
    committed, monkeypatch
):
    """A merchant account shared with the hospital's windows and kiosks: their trades are theirs."""
    row = alipay.BillRow("HIS202611200001", "2026P2", "payment", 35000, NOON, None)
    serve_alipay_bill(monkeypatch, [row])

    reconciliation.reconcile("alipay", DAY)

    [item] = stored("alipay").items
    assert item.kind == FindingKind.MISSING_HERE and "不是本系统生成的" in item.note
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Payment)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 0


def test_unknown_money_is_recorded_and_refunded_once(committed):
    first = refunds.refund_unknown_payment(
        PaymentChannel.WECHAT, "TUNKNOWN0001", "4200999", 1234, paid_at=NOON
    )
    again = refunds.refund_unknown_payment(PaymentChannel.WECHAT, "TUNKNOWN0001", "4200999", 1234)

    assert again.id == first.id
    see_committed()
    payment = db.session.scalar(sa.select(Payment).where(Payment.out_trade_no == "TUNKNOWN0001"))
    assert (payment.order_id, payment.status, payment.paid_at) == (None, "paid", NOON)
    [refund] = db.session.scalars(sa.select(Refund)).all()
    assert (refund.payment_id, refund.order_id, refund.amount_fen, refund.fee_fen) == (
        payment.id,
        None,
        1234,
        0,
    )
    assert refund.reason == RefundReason.RECONCILIATION


def test_an_orders_payment_is_never_refunded_as_unknown_money(committed):
    out_trade_no = paid_payment("wechat")

    assert refunds.refund_unknown_payment("wechat", out_trade_no, "4200", 5000) is None
    see_committed()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 0
