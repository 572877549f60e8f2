"""Payments racing each other and the order's other moves, on real MySQL."""

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.domain import clock
from app.domain.orders import OrderStatus
from app.domain.payments import PaymentChannel, PaymentStatus, RefundReason
from app.errors import AppError
from app.extensions import db
from app.infra import queue
from app.models import Account, Order, Payment, Refund, Schedule
from app.services import auth, cancellation
from app.services.booking import holds, lifecycle, reschedule
from app.services.payments import outcomes, paying
from tests.factories import make_schedule
from tests.integration.committed import make_patients, see_committed

TOMORROW = clock.business_date(clock.now()) + timedelta(days=1)


def _pending_payment():
    schedule = make_schedule(on=TOMORROW, capacity=3)
    db.session.commit()
    ((account_id, patient_id),) = make_patients(1)
    order, _ = holds.hold_slot(account_id, schedule.id, patient_id, "pay-race-key")
    payment = Payment.pending_for(order, PaymentChannel.WECHAT, prepay_id="wx-test-prepay")
    db.session.add(payment)
    db.session.commit()
    return account_id, order, payment


def _in_threads(committed, calls):
    barrier = threading.Barrier(len(calls))

    def run(call):
        with committed.app_context():
            barrier.wait(timeout=10)
            try:
                return call()
            except AppError as error:
                return error.code

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [future.result() for future in [pool.submit(run, call) for call in calls]]


def _confirm(payment, amount=None):
    return lambda: paying.confirm_payment(
        PaymentChannel.WECHAT,
        payment.out_trade_no,
        "4200000000000001",
        payment.amount_fen if amount is None else amount,
        clock.now(),
    )


def test_ten_concurrent_copies_of_one_notify_apply_once(committed):
    _, order, payment = _pending_payment()
    outcomes = _in_threads(committed, [_confirm(payment)] * 10)
    assert sorted(outcomes) == ["already"] * 9 + ["booked"]
    see_committed()
    assert db.session.get(Order, order.id).status == OrderStatus.BOOKED
    assert db.session.get(Payment, payment.id).status == PaymentStatus.PAID
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Refund)) == 0


def test_a_cancel_racing_a_payment_ends_one_way(committed):
    account_id, order, payment = _pending_payment()
    outcomes = _in_threads(
        committed,
        [_confirm(payment), lambda: cancellation.cancel_order(account_id, order.id).status],
    )
    see_committed()
    final = db.session.get(Order, order.id).status
    refunds = [
        (r.reason, r.amount_fen + r.fee_fen)
        for r in db.session.scalars(sa.select(Refund).where(Refund.order_id == order.id))
    ]
    paid = payment.amount_fen
    assert (outcomes, final, refunds) in [
        # The cancel first: the payment arrives late and goes back in full.
        (
            ["refunding", OrderStatus.CANCELLED],
            OrderStatus.CANCELLED,
            [(RefundReason.LATE_PAYMENT, paid)],
        ),
        # The payment first, while the cancel still saw an unpaid hold: the cancel is refused.
        (["booked", "order_not_cancellable"], OrderStatus.BOOKED, []),
        # The payment first, the cancel saw it paid: cancelled with a refund by the tiers.
        (
            ["booked", OrderStatus.CANCELLED],
            OrderStatus.CANCELLED,
            [(RefundReason.PATIENT_CANCEL, paid)],
        ),
    ]
    assert db.session.get(Payment, payment.id).status == PaymentStatus.PAID


def test_a_payment_racing_the_expiry_ends_one_way(committed):
    _, order, payment = _pending_payment()
    later = clock.now() + timedelta(minutes=16)
    outcomes = _in_threads(
        committed, [_confirm(payment), lambda: lifecycle.expire_hold(order.id, now=later)]
    )
    see_committed()
    final = db.session.get(Order, order.id)
    refunds = db.session.scalars(sa.select(Refund).where(Refund.order_id == order.id)).all()
    if final.status == OrderStatus.BOOKED:
        assert outcomes == ["booked", False] and refunds == []
    else:
        assert final.status == OrderStatus.EXPIRED and outcomes == ["refunding", True]
        assert [r.reason for r in refunds] == [RefundReason.LATE_PAYMENT]


def test_a_notify_with_another_amount_changes_nothing(committed):
    _, order, payment = _pending_payment()
    try:
        _confirm(payment, amount=payment.amount_fen + 1)()
    except outcomes.NotifyRejected as error:
        assert error.status == 400
    else:
        raise AssertionError("a tampered amount was applied")
    see_committed()
    assert db.session.get(Order, order.id).status == OrderStatus.PENDING_PAYMENT
    assert db.session.get(Payment, payment.id).status == PaymentStatus.PENDING


def test_an_unknown_payment_is_refused(committed):
    try:
        paying.confirm_payment(PaymentChannel.WECHAT, "BKunknown0000", "42", 100, clock.now())
    except outcomes.NotifyRejected as error:
        assert error.status == 404
    else:
        raise AssertionError("an unknown payment was applied")


def test_a_notification_for_money_reconciliation_is_refunding_is_acknowledged(committed):
    payment = Payment(
        order_id=None,
        channel=PaymentChannel.WECHAT,
        out_trade_no="BKfound0000x",
        amount_fen=100,
        expires_at=clock.now(),
        status=PaymentStatus.PAID,
    )
    db.session.add(payment)
    db.session.commit()
    outcome = paying.confirm_payment(PaymentChannel.WECHAT, "BKfound0000x", "42", 100, clock.now())
    assert outcome == "already"


def _visit_start(order):
    schedule = db.session.get(Schedule, order.schedule_id)
    return datetime.combine(order.visit_date, schedule.start_time, tzinfo=clock.CHINA_TZ)


def test_a_paid_order_cannot_be_moved_once_cancelling_would_cost_a_fee(committed):
    account_id, order, payment = _pending_payment()
    _confirm(payment)()
    target = make_schedule(
        db.session.get(Order, order.id).doctor, on=TOMORROW + timedelta(days=3), capacity=2
    )
    db.session.commit()
    start = _visit_start(order)
    try:
        reschedule.reschedule_order(account_id, order.id, target.id, now=start - timedelta(hours=3))
    except AppError as error:
        assert error.code == "reschedule_window_closed"
    else:
        raise AssertionError("a paid order was moved inside the fee window")
    moved = reschedule.reschedule_order(
        account_id, order.id, target.id, now=start - timedelta(hours=30)
    )
    assert moved.schedule_id == target.id


def test_cancelling_a_double_paid_order_refunds_the_payment_that_booked_it(committed):
    account_id, order, by_wechat = _pending_payment()
    by_alipay = Payment.pending_for(order, PaymentChannel.ALIPAY)
    db.session.add(by_alipay)
    db.session.commit()
    assert (
        paying.confirm_payment(
            PaymentChannel.ALIPAY, by_alipay.out_trade_no, "2026A", order.amount_fen, clock.now()
        )
        == "booked"
    )
    assert _confirm(by_wechat)() == "refunding"  # the duplicate goes back
    cancellation.cancel_order(account_id, order.id, now=_visit_start(order) - timedelta(hours=48))
    see_committed()
    refunds = db.session.scalars(sa.select(Refund).where(Refund.order_id == order.id)).all()
    by_payment = {
        payment_id: sum(r.amount_fen + r.fee_fen for r in refunds if r.payment_id == payment_id)
        for payment_id in (by_wechat.id, by_alipay.id)
    }
    assert by_payment == {by_wechat.id: order.amount_fen, by_alipay.id: order.amount_fen}


def test_a_token_revoked_behind_the_cache_books_nothing(committed):
    schedule = make_schedule(on=TOMORROW, capacity=2)
    db.session.commit()
    ((account_id, patient_id),) = make_patients(1)
    account = db.session.get(Account, account_id)
    token, _ = auth.issue_token(account)
    caller = auth.authenticate(token)  # the state is now cached in Redis
    account.token_version += 1  # revoked, and the cache not yet told (the race)
    db.session.commit()
    try:
        holds.hold_slot(caller, schedule.id, patient_id, "revoked-key-1")
    except auth.Unauthorized:
        pass
    else:
        raise AssertionError("a revoked token booked a number")
    see_committed()
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Order)) == 0


def test_a_free_clinic_books_at_once(committed):
    schedule = make_schedule(on=TOMORROW, capacity=2, fee_fen=0)
    db.session.commit()
    ((account_id, patient_id),) = make_patients(1)
    order, _ = holds.hold_slot(account_id, schedule.id, patient_id, "free-key-1")
    assert order.status == OrderStatus.BOOKED and order.amount_fen == 0
    assert queue.get_queue(queue.BOOKING).get_jobs() == []  # no timer to arm: nothing expires
    assert queue.get_queue(queue.BOOKING).fetch_job(f"expire-order-{order.id}") is None
