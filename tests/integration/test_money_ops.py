"""`flask money …`: what operations staff see of failed refunds, and how they retry one."""

from datetime import timedelta

from app.domain import clock
from app.domain.payments import PaymentChannel, PaymentStatus, RefundReason, RefundStatus
from app.extensions import db
from app.infra import queue
from app.models import Payment, Refund
from app.services.booking import holds
from tests.factories import make_schedule
from tests.integration.committed import make_patients, see_committed


def _failed_refund():
    schedule = make_schedule(on=clock.business_date(clock.now()) + timedelta(days=1), capacity=2)
    db.session.commit()
    ((account_id, patient_id),) = make_patients(1)
    order, _ = holds.hold_slot(account_id, schedule.id, patient_id, "ops-key-1")
    payment = Payment(
        order_id=order.id,
        channel=PaymentChannel.WECHAT,
        out_trade_no="BKops0001",
        amount_fen=order.amount_fen,
        expires_at=order.expires_at,
        status=PaymentStatus.PAID,
    )
    db.session.add(payment)
    db.session.flush()
    refund = Refund(
        payment_id=payment.id,
        order_id=order.id,
        out_refund_no="RFops0001",
        amount_fen=order.amount_fen,
        fee_fen=0,
        reason=RefundReason.LATE_PAYMENT,
        status=RefundStatus.FAILED,
        attempts=5,
        last_error="ABNORMAL",
    )
    db.session.add(refund)
    db.session.commit()
    return refund


def test_failed_refunds_are_listed_and_can_be_retried(committed):
    refund = _failed_refund()
    runner = committed.test_cli_runner()
    listed = runner.invoke(args=["money", "failed-refunds"]).output
    assert "RFops0001" in listed and "1 failed refund(s)" in listed

    retried = runner.invoke(args=["money", "retry-refund", str(refund.id)])
    assert retried.exit_code == 0 and "queued again" in retried.output
    see_committed()
    assert db.session.get(Refund, refund.id).status == RefundStatus.PENDING
    assert queue.get_queue(queue.BOOKING).fetch_job(f"refund-{refund.id}") is not None
    assert "0 failed refund(s)" in runner.invoke(args=["money", "failed-refunds"]).output

    again = runner.invoke(args=["money", "retry-refund", str(refund.id)])
    assert again.exit_code != 0  # only a failed refund can be retried


def test_no_differences_on_a_quiet_day(committed):
    output = committed.test_cli_runner().invoke(args=["money", "differences"]).output
    assert "0 open difference(s)" in output
