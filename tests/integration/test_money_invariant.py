"""No fen lost: after a randomized run of holds, payments, duplicate and late notifications,
cancels and expiries, what was paid equals what was refunded, kept as fees, and booked."""

import contextlib
import random
from datetime import timedelta

import pytest
import sqlalchemy as sa

from app.domain import clock
from app.domain.orders import OrderStatus
from app.domain.payments import PaymentChannel, PaymentStatus
from app.errors import AppError
from app.extensions import db
from app.models import Order, Payment, Refund
from app.services import cancellation
from app.services.booking import holds, lifecycle
from app.services.payments import outcomes, paying
from tests.factories import make_doctor, make_schedule
from tests.integration.committed import make_patients, see_committed


def _open_payment(order, channel):
    payment = Payment.pending_for(order, channel)
    db.session.add(payment)
    db.session.commit()
    return payment


def _notify(payment):
    """The channel says it was paid (a verified notification, or our query)."""
    with contextlib.suppress(outcomes.NotifyRejected):
        paying.confirm_payment(
            payment.channel,
            payment.out_trade_no,
            "T" + payment.out_trade_no,
            payment.amount_fen,
            clock.now(),
        )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_payments_minus_refunds_equal_the_booked_orders(committed, seed):
    rng = random.Random(seed)
    today = clock.business_date(clock.now())
    schedules = [
        make_schedule(
            make_doctor(),
            on=today + timedelta(days=rng.choice([1, 3])),
            capacity=6,
            fee_fen=rng.choice([1000, 2000, 5000, 3333]),
        )
        for _ in range(4)
    ]
    db.session.commit()
    schedule_ids = [s.id for s in schedules]
    people = make_patients(30)
    later = clock.now() + timedelta(minutes=16)

    for n, (account_id, patient_id) in enumerate(people):
        try:
            order, _ = holds.hold_slot(
                account_id, rng.choice(schedule_ids), patient_id, f"r{seed}-{n}"
            )
        except AppError:
            continue  # sold out
        opened = [_open_payment(order, PaymentChannel.WECHAT)]
        if rng.random() < 0.3:
            opened.append(_open_payment(order, PaymentChannel.ALIPAY))  # pays by both
        story = rng.choice(["pay", "pay", "pay_late", "expire", "cancel_unpaid", "pay_then_cancel"])
        if story == "expire":
            lifecycle.expire_hold(order.id, now=later)
        elif story == "cancel_unpaid":
            cancellation.cancel_order(account_id, order.id)
        elif story == "pay_late":
            lifecycle.expire_hold(order.id, now=later)
            for payment in opened:
                _notify(payment)
        else:
            for payment in opened:
                for _ in range(rng.randint(1, 3)):  # duplicate notifications
                    _notify(payment)
            if story == "pay_then_cancel":
                with contextlib.suppress(AppError):  # too close to the visit
                    cancellation.cancel_order(account_id, order.id)

    see_committed()
    paid = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Payment.amount_fen), 0)).where(
            Payment.status == PaymentStatus.PAID
        )
    )
    refunded, kept = db.session.execute(
        sa.select(
            sa.func.coalesce(sa.func.sum(Refund.amount_fen), 0),
            sa.func.coalesce(sa.func.sum(Refund.fee_fen), 0),
        )
    ).one()
    booked = db.session.scalar(
        sa.select(sa.func.coalesce(sa.func.sum(Order.amount_fen), 0)).where(
            Order.status == OrderStatus.BOOKED
        )
    )
    assert paid > 0 and refunded > 0  # the run exercised both
    assert paid == refunded + kept + booked
    # Every booked order was paid exactly once net of refunds.
    for order in db.session.scalars(sa.select(Order).where(Order.status == OrderStatus.BOOKED)):
        got = sum(p.amount_fen for p in order.payments if p.status == PaymentStatus.PAID)
        back = db.session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(Refund.amount_fen + Refund.fee_fen), 0)).where(
                Refund.order_id == order.id
            )
        )
        assert got - back == order.amount_fen
