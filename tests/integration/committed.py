"""Tests that need real commits (concurrency, races): a database emptied after each test."""

from types import SimpleNamespace

from app.domain import clock
from app.domain.payments import PaymentChannel, PaymentStatus, new_out_trade_no
from app.extensions import db
from app.models import Payment
from app.services import patients
from app.services.booking import holds
from app.services.payments import paying
from tests.factories import make_account, make_schedule, resident_id


def empty_tables():
    """Delete every row the tests made, children first so foreign keys never object."""
    for table in reversed(db.metadata.sorted_tables):
        db.session.execute(table.delete())
    db.session.commit()


def make_patients(count):
    """``count`` accounts with one patient each, committed; returns [(account_id, patient_id)]."""
    pairs = []
    for n in range(count):
        account = make_account()
        db.session.commit()
        patient = patients.add_patient(
            account.id,
            {"name": "患者", "id_number": resident_id(serial=n % 100), "relationship": "self"},
        )
        pairs.append((account.id, patient.id))
    return pairs


def make_paid_order(doctor, on, fee_fen=2000, with_phone=False):
    """A new patient (with a phone of their own if ``with_phone``) holding a number of a new
    clinic of ``doctor`` on ``on`` and paying it by WeChat Pay, confirmed as a verified notify
    confirms it; committed. Returns the order's id, out_trade_no and phone."""
    schedule = make_schedule(doctor, on=on, fee_fen=fee_fen)
    db.session.commit()
    ((account_id, patient_id),) = make_patients(1)
    phone = f"139{schedule.id:08d}" if with_phone else None
    if phone is not None:
        patients.update_patient(account_id, patient_id, {"phone": phone})
    order, _ = holds.hold_slot(account_id, schedule.id, patient_id, f"paid-{schedule.id}")
    out_trade_no = new_out_trade_no(order.id, PaymentChannel.WECHAT)
    db.session.add(
        Payment(
            order_id=order.id,
            channel=PaymentChannel.WECHAT,
            out_trade_no=out_trade_no,
            amount_fen=fee_fen,
            status=PaymentStatus.PENDING,
            expires_at=order.expires_at,
        )
    )
    db.session.commit()
    paying.confirm_payment("wechat", out_trade_no, "4200000001", fee_fen, clock.now())
    return SimpleNamespace(id=order.id, out_trade_no=out_trade_no, phone=phone)


def see_committed():
    """Forget what this session holds, so the next reads see what other sessions committed."""
    db.session.rollback()
    db.session.expire_all()
