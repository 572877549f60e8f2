"""Messages to patients, end to end: consents recorded over the API, the outbox row written with
the change that causes it, and the job sending it through the production WeChat adapter to the
stand-in (which spends a consent per message as WeChat does)."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa

from app.domain import clock
from app.domain.messages import MessageChannel, MessageKind, MessageStatus
from app.extensions import db
from app.infra import queue
from app.models import Message, Refund
from app.services.messages import delivery
from tests.e2e.clients import expect, hold, patient_of
from tests.e2e.wechatpay_helpers import WeChatPayer
from tests.support import run_queued_jobs


@pytest.fixture(scope="module")
def wechat_payer(served):
    return WeChatPayer(served.url)


def consents_of(user):
    items = expect(user.call("GET", "/api/v1/subscriptions"), 200)["items"]
    return {item["kind"]: item for item in items}


def allow(user, *kinds, tell_wechat=True):
    """The patient taps 允许 for ``kinds`` in wx.requestSubscribeMessage; the mini-program
    records it with POST /subscriptions."""
    templates = consents_of(user)
    if tell_wechat:
        for kind in kinds:
            user.phone.allow(user.openid, templates[kind]["template_id"])
    return expect(user.call("POST", "/api/v1/subscriptions", json={"kinds": list(kinds)}), 200)


def paid_order(user, world, wechat_payer, **schedule):
    order = expect(hold(user, world.schedule(**schedule), patient_of(user)), 201)
    started = expect(
        user.call("POST", f"/api/v1/orders/{order['id']}/payments", json={"channel": "wechat"}),
        201,
    )
    wechat_payer.pay(started["out_trade_no"])
    return order


def messages_of(served, order_id):
    with served.app.app_context():
        rows = db.session.scalars(
            sa.select(Message).where(Message.order_id == order_id).order_by(Message.id)
        ).all()
        copies = [
            SimpleNamespace(
                **{column.key: getattr(row, column.key) for column in Message.__table__.c}
            )
            for row in rows
        ]
        db.session.rollback()
        return copies


def run_jobs(served):
    with served.app.app_context():
        run_queued_jobs()


class TestConsents:
    def test_every_kind_is_listed_with_its_template_and_nothing_allowed_yet(self, user):
        kinds = consents_of(user)
        assert set(kinds) == {kind.value for kind in MessageKind}
        assert all(item["remaining"] == 0 and item["template_id"] for item in kinds.values())
        assert kinds["stop_clinic"]["name"] == "停诊通知"

    def test_each_grant_allows_one_more_message_and_a_kind_named_twice_counts_once(self, user):
        allow(user, "visit_reminder", "stop_clinic", tell_wechat=False)
        answer = allow(user, "visit_reminder", "visit_reminder", tell_wechat=False)
        left = {item["kind"]: item["remaining"] for item in answer["items"]}
        assert left["visit_reminder"] == 2 and left["stop_clinic"] == 1
        assert left["booking_confirmed"] == 0

    @pytest.mark.parametrize("kinds", [[], ["birthday_greeting"], "visit_reminder", None])
    def test_unknown_kinds_and_empty_lists_are_refused(self, user, kinds):
        expect(
            user.call("POST", "/api/v1/subscriptions", json={"kinds": kinds}),
            422,
            "validation_error",
        )

    def test_consents_need_a_signed_in_account(self, http):
        assert http.get("/api/v1/subscriptions").status_code == 401
        assert (
            http.post("/api/v1/subscriptions", json={"kinds": ["stop_clinic"]}).status_code == 401
        )


class TestBookingConfirmed:
    def test_paying_sends_the_confirmation_by_wechat_and_spends_the_consent(
        self, served, user, world, wechat_payer
    ):
        allow(user, "booking_confirmed")
        order = paid_order(user, world, wechat_payer)
        (message,) = messages_of(served, order["id"])
        assert (message.kind, message.status) == (MessageKind.BOOKING_CONFIRMED, "pending")
        with served.app.app_context():
            assert queue.get_queue(queue.NOTIFICATIONS).fetch_job(f"message-{message.id}")
        run_jobs(served)

        (sent,) = user.phone.messages(user.openid)
        template = served.app.config["WECHAT_TEMPLATES"]["booking_confirmed"]
        assert sent["template_id"] == template["template_id"]
        assert sent["title"] == "预约成功通知"  # as the patient's phone shows it
        assert sent["page"] == f"packages/orders/pages/detail/index?id={order['id']}"
        data = {keyword: item["value"] for keyword, item in sent["data"].items()}
        visit = clock.business_date(clock.now()) + timedelta(days=1)
        assert data["name1"] == "张三"
        assert data["time3"].startswith(f"{visit.year}年{visit.month}月{visit.day}日 ")
        assert data["character_string4"] == str(order["seq"])
        (message,) = messages_of(served, order["id"])
        assert (message.status, message.channel) == (MessageStatus.SENT, MessageChannel.WECHAT)
        assert message.provider_id == str(sent["msgid"]) and message.sent_at is not None
        assert consents_of(user)["booking_confirmed"]["remaining"] == 0

    def test_without_consent_nothing_is_sent_and_the_row_says_why(
        self, served, user, world, wechat_payer
    ):
        order = paid_order(user, world, wechat_payer)
        run_jobs(served)
        (message,) = messages_of(served, order["id"])
        assert message.status == MessageStatus.SKIPPED and "未授权" in message.last_error
        assert user.phone.messages(user.openid) == []

    def test_a_consent_wechat_does_not_know_fails_for_good_and_counts_as_none(
        self, served, user, world, wechat_payer
    ):
        allow(user, "booking_confirmed", tell_wechat=False)  # the client claims a grant
        order = paid_order(user, world, wechat_payer)
        run_jobs(served)
        (message,) = messages_of(served, order["id"])
        assert message.status == MessageStatus.FAILED and message.last_error.startswith("43101")
        assert consents_of(user)["booking_confirmed"]["remaining"] == 0

    def test_a_message_no_longer_true_is_not_sent(self, served, user, world, wechat_payer):
        allow(user, "booking_confirmed")
        order = paid_order(
            user, world, wechat_payer, on=clock.business_date(clock.now()) + timedelta(days=3)
        )
        expect(user.call("POST", f"/api/v1/orders/{order['id']}/cancel"), 200)
        with served.app.app_context():
            message_id = messages_of(served, order["id"])[0].id
            assert delivery.send_message(message_id) == MessageStatus.SKIPPED
        assert user.phone.messages(user.openid) == []
        assert consents_of(user)["booking_confirmed"]["remaining"] == 1

    def test_a_message_is_sent_once_however_often_its_job_runs(
        self, served, user, world, wechat_payer
    ):
        allow(user, "booking_confirmed")
        allow(user, "booking_confirmed")
        order = paid_order(user, world, wechat_payer)
        (message,) = messages_of(served, order["id"])
        with served.app.app_context():
            assert delivery.send_message(message.id) == MessageStatus.SENT
            assert delivery.send_message(message.id) is None
            run_queued_jobs()
        assert len(user.phone.messages(user.openid)) == 1


class TestWeChatAway:
    def test_the_message_waits_and_is_retried_then_given_up_with_the_reason(
        self, served, user, world, wechat_payer, monkeypatch
    ):
        allow(user, "booking_confirmed")
        order = paid_order(user, world, wechat_payer)
        (message,) = messages_of(served, order["id"])
        monkeypatch.setitem(served.app.config, "WECHAT_API_BASE", "http://127.0.0.1:9/")
        with served.app.app_context():
            with pytest.raises(delivery.ProviderBusy):
                delivery.send_message(message.id)
            (waiting,) = messages_of(served, order["id"])
            assert (waiting.status, waiting.attempts) == (MessageStatus.PENDING, 1)
            assert "微信暂不可用" in waiting.last_error
            # The backstop finds it once it has waited long enough.
            later = clock.now() + timedelta(seconds=delivery.STUCK_SECONDS + 1)
            assert delivery.resend_stuck(now=later) >= 1
            db.session.execute(
                sa.update(Message)
                .where(Message.id == message.id)
                .values(attempts=delivery.MAX_ATTEMPTS - 1)
            )
            db.session.commit()
            assert delivery.send_message(message.id) == MessageStatus.FAILED
        (given_up,) = messages_of(served, order["id"])
        assert (
            given_up.status == MessageStatus.FAILED and given_up.attempts == delivery.MAX_ATTEMPTS
        )


class TestRefundResult:
    def test_a_settled_refund_tells_the_patient_its_amount(self, served, user, world, wechat_payer):
        allow(user, "refund_result")
        order = paid_order(
            user, world, wechat_payer, on=clock.business_date(clock.now()) + timedelta(days=3)
        )
        expect(user.call("POST", f"/api/v1/orders/{order['id']}/cancel"), 200)
        run_jobs(served)  # the refund goes to WeChat Pay
        with served.app.app_context():
            out_refund_no = db.session.scalar(
                sa.select(Refund.out_refund_no).where(Refund.order_id == order["id"])
            )
        wechat_payer.settle_refund(out_refund_no)
        run_jobs(served)
        kinds = [m.kind for m in messages_of(served, order["id"])]
        assert MessageKind.REFUND_RESULT in kinds
        (sent,) = user.phone.messages(user.openid)
        data = {keyword: item["value"] for keyword, item in sent["data"].items()}
        fee = order["amount_fen"]
        assert data["amount2"] == f"¥{fee // 100}.{fee % 100:02d}"
        assert data["phrase3"] == "退款成功"
