"""Paying over HTTP through the production adapters and the stand-ins: pay → webhook → booked;
duplicate and late payments; forged notifications; cancelling a paid order with a refund."""

from datetime import datetime, timedelta

import pytest
import sqlalchemy as sa
from rq.registry import ScheduledJobRegistry

from app.domain import clock
from app.domain.payments import RefundReason, RefundStatus
from app.extensions import db
from app.infra import queue
from app.integrations import channels
from app.models import Payment, Refund
from app.services import expiry
from app.services.booking import lifecycle
from app.services.payments import paying
from tests.e2e.alipay_helpers import AlipayPayer
from tests.e2e.clients import expect, hold, patient_of
from tests.e2e.wechatpay_helpers import WeChatPayer
from tests.support import run_queued_jobs


@pytest.fixture(scope="module")
def wechat_payer(served):
    return WeChatPayer(served.url)


@pytest.fixture(scope="module")
def alipay_payer(served):
    return AlipayPayer(served.url)


def booked_hold(user, world, **schedule):
    order = expect(hold(user, world.schedule(**schedule), patient_of(user)), 201)
    return order


def pay_with(user, order_id, channel):
    response = user.call("POST", f"/api/v1/orders/{order_id}/payments", json={"channel": channel})
    return expect(response, 201)


def order_of(user, order_id):
    return expect(user.call("GET", f"/api/v1/orders/{order_id}"), 200)


def listed_as_shown(user, order_id):
    """The order in the account's list is the order as its own page shows it (payments and
    refunds included; the list does not read a stopped clinic's alternatives)."""
    listed = expect(user.call("GET", "/api/v1/orders"), 200)["items"]
    (item,) = [item for item in listed if item["id"] == order_id]
    shown = order_of(user, order_id)
    assert item == shown | {"alternatives": []}
    return item


def run_jobs(served):
    """Run the queued background jobs (refunds) the way a worker does."""
    with served.app.app_context():
        run_queued_jobs()


def refunds_of(served, order_id):
    with served.app.app_context():
        rows = db.session.scalars(sa.select(Refund).where(Refund.order_id == order_id)).all()
        return [(r.reason, r.status, r.amount_fen, r.fee_fen) for r in rows]


class TestWeChatPay:
    def test_pay_then_notify_books_the_order(self, user, world, wechat_payer):
        order = booked_hold(user, world)
        started = pay_with(user, order["id"], "wechat")
        params = started["params"]
        assert set(params) == {"timeStamp", "nonceStr", "package", "signType", "paySign"}
        assert params["package"].startswith("prepay_id=") and params["signType"] == "RSA"
        again = pay_with(user, order["id"], "wechat")
        assert again["params"]["package"] == params["package"]  # the same prepay
        assert order_of(user, order["id"])["out_trade_no"] == started["out_trade_no"]

        delivery = wechat_payer.pay(started["out_trade_no"])
        assert delivery["delivered"] and delivery["status_code"] == 204
        paid = order_of(user, order["id"])
        assert paid["status"] == "booked" and paid["paid"] is True
        expect(
            user.call("POST", f"/api/v1/orders/{order['id']}/payments", json={"channel": "wechat"}),
            409,
            "order_not_payable",
        )

    def test_the_same_notification_ten_times_is_one_payment(
        self, served, user, world, wechat_payer
    ):
        order = booked_hold(user, world)
        started = pay_with(user, order["id"], "wechat")
        wechat_payer.pay(started["out_trade_no"])
        wechat_payer.redeliver(times=10, out_trade_no=started["out_trade_no"])
        with served.app.app_context():
            payments = db.session.scalars(
                sa.select(Payment).where(Payment.order_id == order["id"])
            ).all()
            assert [(p.status, p.amount_fen) for p in payments] == [("paid", order["amount_fen"])]
        assert refunds_of(served, order["id"]) == []

    @pytest.mark.parametrize("tamper", ["signature", "amount", "timestamp", "serial", "resource"])
    def test_forged_notifications_change_nothing(self, user, world, wechat_payer, tamper):
        order = booked_hold(user, world)
        started = pay_with(user, order["id"], "wechat")
        wechat_payer.pay(started["out_trade_no"], notify=False)  # paid; its notice is forged
        sent = wechat_payer.notify_raw(started["out_trade_no"], tamper)
        assert sent.get("status_code", 400) >= 400
        assert order_of(user, order["id"])["status"] == "pending_payment"

    def test_a_garbage_body_is_refused(self, http):
        response = http.post(
            "/webhooks/wechatpay", data=b"{not json", headers={"Content-Type": "application/json"}
        )
        assert response.status_code in (400, 401) and response.json()["code"] == "FAIL"

    def test_a_payment_after_the_hold_expired_is_refunded_in_full(
        self, served, user, world, wechat_payer
    ):
        order = booked_hold(user, world)
        started = pay_with(user, order["id"], "wechat")
        with served.app.app_context():
            assert lifecycle.expire_hold(order["id"], now=clock.now() + timedelta(minutes=16))
        wechat_payer.pay(started["out_trade_no"])  # the payer was already on the cashier page
        expired = order_of(user, order["id"])
        assert expired["status"] == "expired"
        assert expired["refunds"][0]["reason_text"] == "支付时挂号单已失效，全额退款"
        assert refunds_of(served, order["id"]) == [
            (RefundReason.LATE_PAYMENT, RefundStatus.PENDING, order["amount_fen"], 0)
        ]
        run_jobs(served)
        [(_, status, _, _)] = refunds_of(served, order["id"])
        assert status in (RefundStatus.PROCESSING, RefundStatus.SUCCESS)
        with served.app.app_context():
            refund = db.session.scalar(sa.select(Refund).where(Refund.order_id == order["id"]))
            out_refund_no = refund.out_refund_no
        wechat_payer.settle_refund(out_refund_no)
        assert refunds_of(served, order["id"])[0][1] == RefundStatus.SUCCESS


class TestAlipay:
    def test_pay_on_the_cashier_then_notify_books_the_order(self, user, world, alipay_payer):
        order = booked_hold(user, world)
        started = pay_with(user, order["id"], "alipay")
        assert started["pay_url"].startswith("http://127.0.0.1")
        assert alipay_payer.open(started["pay_url"]).status_code == 200
        delivery = alipay_payer.pay(started["out_trade_no"])
        assert delivery["delivered"] and delivery["response_text"] == "success"
        assert order_of(user, order["id"])["status"] == "booked"
        alipay_payer.redeliver(started["out_trade_no"], times=5)
        assert order_of(user, order["id"])["status"] == "booked"

    @pytest.mark.parametrize(
        "tamper", ["signature", "amount", "app_id", "seller_id", "signed_amount"]
    )
    def test_forged_notifications_change_nothing(self, user, world, alipay_payer, tamper):
        order = booked_hold(user, world)
        started = pay_with(user, order["id"], "alipay")
        alipay_payer.open(started["pay_url"])
        sent = alipay_payer.notify_raw(started["out_trade_no"], tamper)
        assert sent["delivered"] is False and sent["response_text"].startswith("fail")
        assert order_of(user, order["id"])["status"] == "pending_payment"

    def test_garbage_is_refused(self, http):
        response = http.post("/webhooks/alipay", data={"sign": "x", "out_trade_no": "nope"})
        assert response.status_code == 400 and response.text.startswith("fail")

    def test_paying_twice_by_two_channels_refunds_the_second(
        self, served, user, world, wechat_payer, alipay_payer
    ):
        order = booked_hold(user, world)
        by_wechat = pay_with(user, order["id"], "wechat")
        by_alipay = pay_with(user, order["id"], "alipay")
        unpaid = listed_as_shown(user, order["id"])
        assert (unpaid["out_trade_no"], unpaid["paid"]) == (by_alipay["out_trade_no"], False)
        alipay_payer.open(by_alipay["pay_url"])
        wechat_payer.pay(by_wechat["out_trade_no"])
        alipay_payer.pay(by_alipay["out_trade_no"])
        assert order_of(user, order["id"])["status"] == "booked"
        paid = listed_as_shown(user, order["id"])
        assert (paid["paid"], len(paid["refunds"])) == (True, 1)
        assert refunds_of(served, order["id"]) == [
            (RefundReason.DUPLICATE_PAYMENT, RefundStatus.PENDING, order["amount_fen"], 0)
        ]
        run_jobs(served)
        assert (
            refunds_of(served, order["id"])[0][1] == RefundStatus.SUCCESS
        )  # Alipay settles at once


class TestCancellingAPaidOrder:
    def test_well_ahead_the_refund_is_full(self, served, user, world, wechat_payer):
        order = booked_hold(user, world, on=clock.business_date(clock.now()) + timedelta(days=3))
        started = pay_with(user, order["id"], "wechat")
        wechat_payer.pay(started["out_trade_no"])
        quote = expect(user.call("GET", f"/api/v1/orders/{order['id']}/refund-quote"), 200)
        assert quote == {
            "refundable": True,
            "refund_fen": order["amount_fen"],
            "fee_fen": 0,
            "reason": "free_cancellation",
        }
        cancelled = expect(user.call("POST", f"/api/v1/orders/{order['id']}/cancel"), 200)
        assert cancelled["status"] == "cancelled"
        assert refunds_of(served, order["id"]) == [
            (RefundReason.PATIENT_CANCEL, RefundStatus.PENDING, order["amount_fen"], 0)
        ]
        expect(
            user.call("POST", f"/api/v1/orders/{order['id']}/cancel"), 409, "order_not_cancellable"
        )
        run_jobs(served)  # the refund goes to WeChat Pay …
        with served.app.app_context():
            out_refund_no = db.session.scalar(
                sa.select(Refund.out_refund_no).where(Refund.order_id == order["id"])
            )
        wechat_payer.settle_refund(out_refund_no)  # … which settles it and tells us
        [refund] = listed_as_shown(user, order["id"])["refunds"]
        assert refund["status"] == "success" and refund["status_text"] == "已退款"
        assert refund["amount_fen"] == order["amount_fen"]
        assert refund["reason_text"] == "患者取消预约"

    def test_the_quote_of_an_unpaid_hold(self, user, world):
        order = booked_hold(user, world)
        quote = expect(user.call("GET", f"/api/v1/orders/{order['id']}/refund-quote"), 200)
        assert quote["refundable"] is True and quote["refund_fen"] == 0


def test_another_accounts_order_cannot_be_paid(user, other, world):
    order = booked_hold(user, world)
    response = other.call(
        "POST", f"/api/v1/orders/{order['id']}/payments", json={"channel": "wechat"}
    )
    expect(response, 404, "not_found")
    response = other.call("GET", f"/api/v1/orders/{order['id']}/refund-quote")
    expect(response, 404, "not_found")


def test_unknown_channel(user, world):
    order = booked_hold(user, world)
    response = user.call("POST", f"/api/v1/orders/{order['id']}/payments", json={"channel": "cash"})
    expect(response, 422, "validation_error")


class TestWhenSomethingGetsLost:
    def test_a_lost_notification_is_caught_by_asking_the_channel(
        self, served, user, world, wechat_payer
    ):
        order = booked_hold(user, world)
        started = pay_with(user, order["id"], "wechat")
        wechat_payer.pay(started["out_trade_no"], notify=False)  # paid, but WeChat never told us
        assert order_of(user, order["id"])["status"] == "pending_payment"
        with served.app.app_context():
            payment_id = db.session.scalar(
                sa.select(Payment.id).where(Payment.out_trade_no == started["out_trade_no"])
            )
            assert paying.check_payment(payment_id) == "booked"
            assert paying.check_payment(payment_id) is None  # nothing left to do
        assert order_of(user, order["id"])["status"] == "booked"

    def test_a_payment_made_in_time_whose_notification_is_lost_keeps_its_number(
        self, served, user, world, wechat_payer
    ):
        """Paid before the deadline, its notification lost: the expiry asks the channel first
        and books the order instead of letting its number go."""
        order = booked_hold(user, world)
        started = pay_with(user, order["id"], "wechat")
        wechat_payer.pay(started["out_trade_no"], notify=False)
        deadline = datetime.fromisoformat(order["expires_at"]) + timedelta(seconds=1)
        with served.app.app_context():
            assert expiry.expire_order(order["id"], now=deadline) is False
        assert order_of(user, order["id"])["status"] == "booked"
        assert order_of(user, order["id"])["paid"] is True

    def test_an_unpaid_hold_is_closed_at_the_channel_before_its_number_goes(
        self, served, user, world, wechat_payer
    ):
        order = booked_hold(user, world)
        started = pay_with(user, order["id"], "wechat")
        deadline = datetime.fromisoformat(order["expires_at"]) + timedelta(seconds=1)
        with served.app.app_context():
            assert expiry.expire_order(order["id"], now=deadline) is True
        assert order_of(user, order["id"])["status"] == "expired"
        trade = wechat_payer.inspect(started["out_trade_no"])["transaction"]
        assert trade["trade_state"] == "CLOSED"  # it can no longer be paid

    def test_a_channel_that_cannot_say_keeps_the_hold_waiting(
        self, served, user, world, monkeypatch
    ):
        order = booked_hold(user, world)
        pay_with(user, order["id"], "wechat")
        deadline = datetime.fromisoformat(order["expires_at"]) + timedelta(seconds=1)
        monkeypatch.setitem(served.app.config, "WECHATPAY_API_BASE", "http://127.0.0.1:9/")
        with served.app.app_context():
            with pytest.raises(channels.ChannelUnavailable):
                expiry.expire_order(order["id"], now=deadline)
            expiry.sweep_expired_holds(now=deadline)  # this one is left for the next sweep
        assert order_of(user, order["id"])["status"] == "pending_payment"

    def test_the_check_is_scheduled_with_the_prepay(self, served, user, world):
        order = booked_hold(user, world)
        pay_with(user, order["id"], "wechat")
        with served.app.app_context():
            registry = ScheduledJobRegistry(queue=queue.get_queue(queue.BOOKING))
            jobs = [
                queue.get_queue(queue.BOOKING).fetch_job(job_id)
                for job_id in registry.get_job_ids()
            ]
            checks = [j for j in jobs if j and j.func_name == "workers.payments.check_payment"]
        assert len(checks) >= 2

    def test_a_refund_the_channel_cannot_complete_is_surfaced(
        self, served, user, world, wechat_payer
    ):
        order = booked_hold(user, world, on=clock.business_date(clock.now()) + timedelta(days=3))
        started = pay_with(user, order["id"], "wechat")
        wechat_payer.pay(started["out_trade_no"])
        expect(user.call("POST", f"/api/v1/orders/{order['id']}/cancel"), 200)
        run_jobs(served)
        with served.app.app_context():
            out_refund_no = db.session.scalar(
                sa.select(Refund.out_refund_no).where(Refund.order_id == order["id"])
            )
        wechat_payer.settle_refund(out_refund_no, status="ABNORMAL")
        assert refunds_of(served, order["id"])[0][1] == RefundStatus.FAILED


def test_a_failed_payment_leaves_the_hold_waiting(served, user, world, wechat_payer):
    order = booked_hold(user, world)
    started = pay_with(user, order["id"], "wechat")
    failed = wechat_payer._post("/pay", {"out_trade_no": started["out_trade_no"], "fail": True})
    assert failed["notified"] is False
    assert wechat_payer.inspect(started["out_trade_no"])["transaction"]["trade_state"] == "PAYERROR"
    with served.app.app_context():
        payment_id = db.session.scalar(
            sa.select(Payment.id).where(Payment.out_trade_no == started["out_trade_no"])
        )
        assert paying.check_payment(payment_id) is None
    assert order_of(user, order["id"])["status"] == "pending_payment"
