"""Sending the outbox's messages: by WeChat subscription message where the patient consented,
a stop-clinic notice by SMS where they did not; each message once, retried while the provider
cannot take it, and given up with the reason when it refuses."""

import logging
from datetime import timedelta

import sqlalchemy as sa
from flask import current_app

from app.domain import clock
from app.domain.messages import MessageChannel, MessageKind, MessageStatus, template_data
from app.extensions import db
from app.integrations import sms, wechat
from app.models import Account, Message, Order
from app.services import protection
from app.services.messages import consents, content, outbox
from app.services.transaction import transaction

log = logging.getLogger(__name__)

# Attempts before a message a provider keeps failing is given up (failed, for staff to see).
MAX_ATTEMPTS = 8
# A message claimed for this long without an outcome was left by a worker that died: take it.
CLAIM_SECONDS = 300
# The backstop re-queues messages left pending this long (their job was lost or gave up).
STUCK_SECONDS = 120


class ProviderBusy(Exception):
    """WeChat or the SMS gateway could not take the message for now; the job is retried."""


def _claim(message_id, now) -> bool:
    """Take the message for this job: one job at a time sends it, and a sent one never again."""
    stale = now - timedelta(seconds=CLAIM_SECONDS)
    table = Message.__table__
    claimed = db.session.execute(
        sa.update(table)
        .where(
            table.c.id == message_id,
            sa.or_(
                table.c.status == MessageStatus.PENDING,
                sa.and_(table.c.status == MessageStatus.SENDING, table.c.updated_at < stale),
            ),
        )
        .values(
            status=MessageStatus.SENDING,
            attempts=table.c.attempts + 1,
            updated_at=now,
        )
    ).rowcount
    db.session.commit()
    return claimed == 1


def send_message(message_id, now=None) -> MessageStatus | None:
    """Send one message of the outbox if it is still to be sent and still true; its status after,
    or None when another job has it. Raises ProviderBusy (after recording why) so that the job
    is retried."""
    now = now or clock.now()
    if not _claim(message_id, now):
        return None
    message = db.session.get(Message, message_id)
    order = db.session.get(Order, message.order_id) if message.order_id else None
    account = db.session.get(Account, message.account_id)
    try:
        status, channel, detail, provider_id = _deliver(message, order, account)
    except ProviderBusy as busy:
        gave_up = message.attempts >= MAX_ATTEMPTS
        _finish(
            message_id,
            MessageStatus.FAILED if gave_up else MessageStatus.PENDING,
            None,
            str(busy),
            None,
        )
        if gave_up:
            return MessageStatus.FAILED
        raise
    _finish(message_id, status, channel, detail, provider_id)
    return status


def _finish(message_id, status, channel, detail, provider_id):
    with transaction():
        message = db.session.get(Message, message_id, populate_existing=True)
        message.status = status
        message.channel = channel or message.channel
        message.last_error = (detail or "")[:255]
        message.provider_id = provider_id
        if status == MessageStatus.SENT:
            message.sent_at = clock.now()
            if channel == MessageChannel.WECHAT:
                consents.spend(message.account_id, message.kind)
    log.info("message %s: %s %s %s", message_id, status, channel or "", detail or "")


def _deliver(message, order, account):
    """(status, channel, why, provider id) of one try; ProviderBusy when it may work later."""
    if order is None or not content.still_true(message, order):
        return MessageStatus.SKIPPED, None, "已不适用：挂号单状态已变化", None
    template = current_app.config["WECHAT_TEMPLATES"].get(message.kind)
    can_wechat = (
        template is not None and account.openid and consents.remaining(account.id, message.kind) > 0
    )
    if can_wechat:
        try:
            return _by_wechat(message, order, account, template)
        except wechat.NoConsent as refused:
            with transaction():
                consents.none_left(account.id, message.kind)
            if message.kind != MessageKind.STOP_CLINIC:
                return MessageStatus.FAILED, MessageChannel.WECHAT, _said(refused), None
    if message.kind == MessageKind.STOP_CLINIC:
        return _by_sms(message, order)
    why = "未配置该类消息模板" if template is None else "患者未授权该类订阅消息"
    return MessageStatus.SKIPPED, None, why, None


def _said(error) -> str:
    return f"{error.errcode} {error.errmsg}"


def _by_wechat(message, order, account, template):
    values = content.values(message, order)
    page = (template.get("page") or "").format(order_id=order.id) or None
    try:
        msgid = wechat.send_subscribe_message(
            account.openid,
            template["template_id"],
            template_data(template["data"], values),
            page=page,
            state=current_app.config["WECHAT_MINIPROGRAM_STATE"],
        )
    except (wechat.WeChatUnavailable, wechat.RateLimited) as error:
        raise ProviderBusy(f"微信暂不可用：{_said(error)}") from error
    except wechat.NoConsent:
        raise
    except wechat.WeChatError as error:
        return MessageStatus.FAILED, MessageChannel.WECHAT, _said(error), None
    return MessageStatus.SENT, MessageChannel.WECHAT, "", str(msgid) if msgid else None


def _by_sms(message, order):
    phone = _phone_of(order)
    if phone is None:
        return MessageStatus.SKIPPED, None, "患者未授权订阅消息且未留手机号", None
    try:
        serial = sms.send_notice(
            phone,
            current_app.config["SMS_STOP_CLINIC_TEMPLATE_ID"],
            content.sms_params(message, order),
        )
    except sms.SmsUnavailable as error:
        raise ProviderBusy(f"短信暂不可用：{error.code} {error.message}") from error
    except sms.SmsError as error:
        return MessageStatus.FAILED, MessageChannel.SMS, f"{error.code} {error.message}", None
    return MessageStatus.SENT, MessageChannel.SMS, "", serial


def _phone_of(order):
    """The patient's phone, else the account's verified one."""
    if order.patient.phone_cipher:
        return protection.unseal(order.patient.phone_cipher, "patient.phone")
    account = db.session.get(Account, order.account_id)
    if account.phone_cipher:
        return protection.unseal(account.phone_cipher, "account.phone")
    return None


def resend_stuck(now=None, batch=500) -> int:
    """Queue again the messages left pending, or claimed by a worker that died; runs every few
    minutes. Returns how many were queued."""
    now = now or clock.now()
    table = Message.__table__
    ids = db.session.scalars(
        sa.select(table.c.id)
        .where(
            sa.or_(
                sa.and_(
                    table.c.status == MessageStatus.PENDING,
                    table.c.updated_at < now - timedelta(seconds=STUCK_SECONDS),
                ),
                sa.and_(
                    table.c.status == MessageStatus.SENDING,
                    table.c.updated_at < now - timedelta(seconds=CLAIM_SECONDS),
                ),
            )
        )
        .order_by(table.c.id)
        .limit(batch)
    ).all()
    db.session.rollback()
    for message_id in ids:
        outbox.send_later(message_id)
    return len(ids)
