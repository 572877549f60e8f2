"""停诊 end to end: the CLI stops a schedule; holds stop at once; every order is cancelled by the
hospital with a full refund by its channel; each patient hears of it by WeChat, or by SMS
without consent; a stop cut short is finished by running it again, with nothing done twice."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.domain import clock
from app.domain.enums import SlotState
from app.domain.messages import MessageChannel, MessageKind, MessageStatus
from app.domain.orders import CancelledBy
from app.domain.payments import RefundReason, RefundStatus
from app.extensions import db
from app.models import Message, Order, Refund, Schedule, Slot
from app.services import money_ops, stop_clinic
from tests.e2e.clients import User, expect, hold, patient_of
from tests.e2e.sms_helpers import SmsPhone, new_phone
from tests.e2e.test_messages import allow
from tests.e2e.wechatpay_helpers import WeChatPayer
from tests.support import run_queued_jobs
from workers import clinic as clinic_jobs

VISIT = clock.business_date(clock.now()) + timedelta(days=2)


@pytest.fixture(scope="module")
def wechat_payer(served):
    return WeChatPayer(served.url)


@pytest.fixture(scope="module")
def sms_phone(served):
    return SmsPhone(served.url)


@pytest.fixture
def clinic(served, http, phone, world, wechat_payer):
    """A doctor's clinic with patients: one who allowed WeChat notices, one with only a phone,
    one with neither, and one whose hold is unpaid; the same doctor has another clinic later."""
    doctor_id = world.doctor()
    schedule_id = world.schedule(doctor_id, on=VISIT)
    later_id = world.schedule(doctor_id, on=VISIT + timedelta(days=1))
    people = SimpleNamespace(
        wechat=User(http, phone), texted=User(http, phone), silent=User(http, phone)
    )
    allow(people.wechat, "stop_clinic")
    people.texted.sms_phone = new_phone()
    people.orders = {}
    for name in ("wechat", "texted", "silent"):
        user = getattr(people, name)
        extra = {"phone": user.sms_phone} if name == "texted" else {}
        patient_id = patient_of(user, **extra)
        order = expect(hold(user, schedule_id, patient_id), 201)
        started = expect(
            user.call("POST", f"/api/v1/orders/{order['id']}/payments", json={"channel": "wechat"}),
            201,
        )
        wechat_payer.pay(started["out_trade_no"])
        people.orders[name] = order
    people.unpaid = User(http, phone)
    people.orders["unpaid"] = expect(
        hold(people.unpaid, schedule_id, patient_of(people.unpaid)), 201
    )
    return SimpleNamespace(schedule_id=schedule_id, later_id=later_id, people=people)


def _stop(served, schedule_id, reason="医生临时外出会诊"):
    runner = served.app.test_cli_runner()
    result = runner.invoke(
        args=["stop-clinic", str(schedule_id), "--reason", reason, "--actor", "test"]
    )
    assert result.exit_code == 0, result.output
    return result.output


def _rows(served, model, *where):
    with served.app.app_context():
        rows = db.session.scalars(sa.select(model).where(*where).order_by(model.id)).all()
        copies = [
            SimpleNamespace(**{c.key: getattr(row, c.key) for c in model.__table__.c})
            for row in rows
        ]
        db.session.rollback()
        return copies


def test_a_stopped_clinic_cancels_refunds_and_tells_every_patient(
    served, http, phone, clinic, sms_phone
):
    output = _stop(served, clinic.schedule_id)
    assert "4 order(s) cancelled, 3 refund(s) asked" in output
    assert "4 notice(s) queued" in output

    # Holds stop at once, and the calendar says why.
    (schedule,) = _rows(served, Schedule, Schedule.id == clinic.schedule_id)
    assert schedule.status == "stopped" and schedule.stop_reason == "医生临时外出会诊"
    assert schedule.stopped_by == "test" and schedule.stopped_at is not None
    listed = expect(
        http.get(
            f"/api/v1/departments/{schedule.department_id}/schedules",
            params={"date": VISIT.isoformat()},
        ),
        200,
    )
    (shown,) = [s for s in listed if s["id"] == clinic.schedule_id]
    assert shown["status"] == "stopped" and shown["stop_reason"] == "医生临时外出会诊"
    newcomer = User(http, phone)
    expect(hold(newcomer, clinic.schedule_id, patient_of(newcomer)), 409, "schedule_stopped")
    slots = _rows(served, Slot, Slot.schedule_id == clinic.schedule_id)
    assert {slot.state for slot in slots} == {SlotState.BLOCKED}

    # Every order is cancelled by the hospital; the paid ones are refunded in full.
    orders = _rows(served, Order, Order.schedule_id == clinic.schedule_id)
    assert len(orders) == 4
    assert all(o.status == "cancelled" and o.cancelled_by == CancelledBy.HOSPITAL for o in orders)
    refunds = _rows(served, Refund, Refund.order_id.in_([o.id for o in orders]))
    assert len(refunds) == 3
    assert all(
        r.reason == RefundReason.HOSPITAL_STOP and r.fee_fen == 0 and r.amount_fen > 0
        for r in refunds
    )
    paid_ids = {clinic.people.orders[name]["id"] for name in ("wechat", "texted", "silent")}
    assert {r.order_id for r in refunds} == paid_ids

    # The notices: WeChat where allowed, SMS to a phone otherwise, else recorded as unsent.
    with served.app.app_context():
        run_queued_jobs()
    notices = {
        m.order_id: m
        for m in _rows(served, Message, Message.kind == MessageKind.STOP_CLINIC)
        if m.order_id in {o.id for o in orders}
    }
    wechat = notices[clinic.people.orders["wechat"]["id"]]
    assert (wechat.status, wechat.channel) == (MessageStatus.SENT, MessageChannel.WECHAT)
    (sent,) = [
        m
        for m in clinic.people.wechat.phone.messages(clinic.people.wechat.openid)
        if m["template_id"] == served.app.config["WECHAT_TEMPLATES"]["stop_clinic"]["template_id"]
    ]
    data = {keyword: item["value"] for keyword, item in sent["data"].items()}
    assert data["thing4"] == "医生临时外出会诊"
    later = VISIT + timedelta(days=1)
    assert data["thing5"].startswith(f"已全额退款，可改约{later.month}月{later.day}日")
    assert wechat.facts["alternatives"][0].startswith(f"{later.month}月{later.day}日")
    # The page the notice opens names every alternative offered.
    user = clinic.people.wechat
    shown = expect(user.call("GET", f"/api/v1/orders/{clinic.people.orders['wechat']['id']}"), 200)
    assert shown["alternatives"] == wechat.facts["alternatives"] and shown["alternatives"]
    listed = expect(user.call("GET", "/api/v1/orders"), 200)["items"]
    assert all(item["alternatives"] == [] for item in listed)  # the list does not read them

    texted = notices[clinic.people.orders["texted"]["id"]]
    assert (texted.status, texted.channel) == (MessageStatus.SENT, MessageChannel.SMS)
    (sms,) = sms_phone.messages(clinic.people.texted.sms_phone)
    assert f"{VISIT.month}月{VISIT.day}日" in sms["text"] and "停诊" in sms["text"]
    assert all(len(param) <= 6 for param in sms["params"])

    silent = notices[clinic.people.orders["silent"]["id"]]
    assert silent.status == MessageStatus.SKIPPED and silent.last_error

    # Stopping again changes nothing.
    assert "0 order(s) cancelled" in _stop(served, clinic.schedule_id, "另一个原因")
    (schedule,) = _rows(served, Schedule, Schedule.id == clinic.schedule_id)
    assert schedule.stop_reason == "医生临时外出会诊"
    assert len(_rows(served, Refund, Refund.order_id.in_([o.id for o in orders]))) == 3


def test_a_stop_cut_short_is_finished_by_the_backstop_with_nothing_done_twice(
    served, clinic, monkeypatch
):
    real_batch = stop_clinic._one_batch
    calls = []

    def dies_after_the_first_batch(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise SystemExit("the worker was killed")
        return real_batch(*args, **kwargs)

    monkeypatch.setattr(stop_clinic, "_one_batch", dies_after_the_first_batch)
    with served.app.app_context(), pytest.raises(SystemExit):
        stop_clinic.stop_clinic(clinic.schedule_id, "设备故障", "test", batch=2)
    monkeypatch.setattr(stop_clinic, "_one_batch", real_batch)

    orders = _rows(served, Order, Order.schedule_id == clinic.schedule_id)
    handled = [o for o in orders if o.status == "cancelled"]
    assert len(handled) == 2  # one whole batch, and nothing of the next
    untouched = [o for o in orders if o.status != "cancelled"]
    assert _rows(served, Refund, Refund.order_id.in_([o.id for o in untouched])) == []
    untouched_ids = [o.id for o in untouched]
    assert (
        _rows(served, Message, Message.order_id.in_(untouched_ids), Message.kind == "stop_clinic")
        == []
    )

    with served.app.app_context():
        assert stop_clinic.unfinished() == [clinic.schedule_id]
        assert clinic_jobs.resume_stops() == [clinic.schedule_id]
        run_queued_jobs()
        assert stop_clinic.unfinished() == []
    orders = _rows(served, Order, Order.schedule_id == clinic.schedule_id)
    assert all(o.status == "cancelled" for o in orders)
    ids = [o.id for o in orders]
    assert len(_rows(served, Refund, Refund.order_id.in_(ids))) == 3
    notices = _rows(served, Message, Message.order_id.in_(ids), Message.kind == "stop_clinic")
    assert len(notices) == 4


def test_a_refund_the_channel_refuses_is_surfaced_and_the_order_stays_cancelled(
    served, clinic, wechat_payer
):
    _stop(served, clinic.schedule_id)
    with served.app.app_context():
        run_queued_jobs()  # the refunds go to WeChat Pay
    order_id = clinic.people.orders["wechat"]["id"]
    (refund,) = _rows(served, Refund, Refund.order_id == order_id)
    wechat_payer.settle_refund(refund.out_refund_no, status="ABNORMAL")
    (refund,) = _rows(served, Refund, Refund.order_id == order_id)
    assert refund.status == RefundStatus.FAILED
    (order,) = _rows(served, Order, Order.id == order_id)
    assert order.status == "cancelled"
    with served.app.app_context():
        owed = [r.id for r in money_ops.failed_refunds()]
    assert refund.id in owed  # the money still owed, for staff to retry


@pytest.mark.parametrize("reason", ["", "   ", "停" * 201])
def test_a_stop_needs_a_reason_patients_can_read(served, world, reason):
    schedule_id = world.schedule(on=VISIT)
    runner = served.app.test_cli_runner()
    result = runner.invoke(args=["stop-clinic", str(schedule_id), "--reason", reason])
    assert result.exit_code != 0 and "停诊原因" in result.output
    (schedule,) = _rows(served, Schedule, Schedule.id == schedule_id)
    assert schedule.status == "open"


def test_an_unknown_schedule_is_refused(served):
    result = served.app.test_cli_runner().invoke(args=["stop-clinic", "999999999", "--reason", "x"])
    assert result.exit_code != 0 and "未找到" in result.output
