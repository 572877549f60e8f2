"""The payment channels behind one interface: what paying, refunding and reconciling ask of a
channel, whichever it is. A channel is one ``Channel`` here, registered under its
``PaymentChannel`` value; the services never ask which channel they are talking to.

Each adapter turns its provider's answers into the shapes below and its errors into
``ChannelUnavailable`` (try again later) or ``ChannelRejected`` (the same request will be refused
again), so that the services handle every channel's failures alike.
"""

import re
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime

from app.domain.payments import PaymentChannel
from app.domain.reconciliation import Entry
from app.integrations import alipay, wechatpay


class ChannelError(Exception):
    """The channel did not do what was asked."""


class ChannelUnavailable(ChannelError):
    """No trustworthy answer (network, timeout, the provider's own trouble): try again later."""


class ChannelRejected(ChannelError):
    """The channel refused on the merits: the same request will be refused again."""


class NoticeRefused(Exception):
    """A notification we must not apply; ``status`` is the HTTP answer (the channel retries)."""

    def __init__(self, status, reason):
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class Started:
    """What a channel gave for paying one payment: WeChat's prepay id, or Alipay's cashier URL."""

    prepay_id: str | None = None
    pay_url: str | None = None


@dataclass(frozen=True)
class PaidTrade:
    """A trade the channel says was paid."""

    out_trade_no: str
    trade_no: str
    amount_fen: int
    paid_at: datetime | None


@dataclass(frozen=True)
class RefundSent:
    """A refund handed to the channel: whether the money went back already, and its number there."""

    done: bool
    provider_refund_no: str


@dataclass(frozen=True)
class RefundSettled:
    """The channel's final word on a refund: ``succeeded``, or not (``status`` says how)."""

    out_refund_no: str
    succeeded: bool
    status: str


@dataclass(frozen=True)
class Notice:
    """A verified notification: a payment, a refund's settlement, or nothing to apply."""

    paid: PaidTrade | None = None
    refund: RefundSettled | None = None


class Channel:
    """One payment channel, as the services use it."""

    code: PaymentChannel
    needs_openid: bool = False  # pays inside WeChat: the account must have signed in there
    out_trade_no: re.Pattern  # the numbers this channel accepts
    # The provider adapter's errors, and those of them that refuse on the merits.
    _errors: type[Exception]
    _rejected: type[Exception]

    @contextmanager
    def _provider(self):
        """A call to the provider, its errors turned into ChannelRejected or ChannelUnavailable."""
        try:
            yield
        except self._errors as error:
            kind = ChannelRejected if isinstance(error, self._rejected) else ChannelUnavailable
            raise kind(str(error)) from error

    def start(self, out_trade_no, subject, amount_fen, openid, expires_at) -> Started:
        """Ask the channel for the means to pay (a network call)."""
        raise NotImplementedError

    def means_to_pay(self, started: Started) -> dict:
        """What the client needs to pay, from what ``start`` gave: part of the API's answer."""
        raise NotImplementedError

    def paid_trade(self, out_trade_no) -> PaidTrade | None:
        """The trade, if the channel says it was paid; None otherwise (or unknown there)."""
        raise NotImplementedError

    def close(self, out_trade_no) -> bool:
        """Close an unpaid trade; False when there is nothing to close yet (the payment may
        still start, and stays pending for the channel to be asked again)."""
        raise NotImplementedError

    def refund(self, out_trade_no, total_fen, out_refund_no, amount_fen, reason) -> RefundSent:
        """Send a refund of ``amount_fen`` of a paid trade of ``total_fen``; safe to repeat with
        the same ``out_refund_no``."""
        raise NotImplementedError

    def bill(self, bill_date: date) -> list[Entry] | None:
        """The day's verified bill as entries (payments and the refunds that moved money); None
        when the channel has no bill for the day."""
        raise NotImplementedError

    def read_notification(self, *payload) -> Notice:
        """Verify and read a notification (NoticeRefused when it must not be applied)."""
        raise NotImplementedError


class WeChatPayChannel(Channel):
    """WeChat Pay APIv3, JSAPI inside the mini-program."""

    code = PaymentChannel.WECHAT
    needs_openid = True
    out_trade_no = wechatpay.OUT_TRADE_NO
    _errors, _rejected = wechatpay.WeChatPayError, wechatpay.WeChatPayRejected
    # Bill rows: a payment, and a refund (whose own status says whether money went back).
    _PAID, _REFUND, _REFUNDED = "SUCCESS", "REFUND", "SUCCESS"

    def start(self, out_trade_no, subject, amount_fen, openid, expires_at) -> Started:
        with self._provider():
            prepay_id = wechatpay.prepay(out_trade_no, subject, amount_fen, openid, expires_at)
        return Started(prepay_id=prepay_id)

    def means_to_pay(self, started: Started) -> dict:
        return {"params": wechatpay.request_payment_params(started.prepay_id)}

    def paid_trade(self, out_trade_no) -> PaidTrade | None:
        with self._provider():
            found = wechatpay.query(out_trade_no)
        # SUCCESS only: a trade in REFUND was refunded by hand at the merchant platform, which
        # is staff's to reconcile, not ours to book.
        if found is None or found.trade_state != wechatpay.SUCCESS:
            return None
        return PaidTrade(out_trade_no, found.transaction_id, found.amount_fen, found.success_time)

    def close(self, out_trade_no) -> bool:
        with self._provider():
            wechatpay.close(out_trade_no)
        return True

    def refund(self, out_trade_no, total_fen, out_refund_no, amount_fen, reason) -> RefundSent:
        with self._provider():
            sent = wechatpay.refund(out_trade_no, out_refund_no, amount_fen, total_fen, reason)
        if sent.status in (wechatpay.ABNORMAL, wechatpay.CLOSED):
            raise ChannelRejected(f"the refund did not go through: {sent.status}")
        return RefundSent(sent.status == wechatpay.SUCCESS, sent.refund_id)

    def bill(self, bill_date: date) -> list[Entry] | None:
        with self._provider():
            bill = wechatpay.trade_bill(bill_date)
        if bill.summary is None:
            return None
        return [entry for row in bill.rows if (entry := self._entry(row)) is not None]

    def _entry(self, row: wechatpay.BillRow) -> Entry | None:
        # Amounts as we record them: the order amount (订单金额) and the refund applied for
        # (申请退款金额), which differ from the settled ones only by merchant coupons.
        if row.trade_status == self._PAID:
            amount = row.amount_fen if row.order_amount_fen is None else row.order_amount_fen
            return Entry(row.out_trade_no, amount, row.trade_time, provider_no=row.transaction_id)
        if row.trade_status == self._REFUND and row.refund_status == self._REFUNDED:
            amount = (
                row.refund_fen if row.refund_requested_fen is None else row.refund_requested_fen
            )
            return Entry(
                row.out_trade_no,
                amount,
                row.trade_time,
                out_refund_no=row.out_refund_no or "",
                provider_no=row.refund_id,
            )
        return None  # a refund still processing, closed or abnormal moved no money that day

    def read_notification(self, headers, body) -> Notice:
        try:
            notification = wechatpay.parse_notification(headers, body)
        except wechatpay.NotificationInvalid as error:
            raise NoticeRefused(401, error.reason) from None
        paid, refund = notification.transaction, notification.refund
        if paid is not None:
            if notification.event_type != "TRANSACTION.SUCCESS" or paid.trade_state != "SUCCESS":
                return Notice()
            if paid.currency != wechatpay.CURRENCY:
                raise NoticeRefused(400, "currency mismatch")
            return Notice(
                paid=PaidTrade(
                    paid.out_trade_no, paid.transaction_id, paid.amount_fen, paid.success_time
                )
            )
        if refund is not None and refund.status in (
            wechatpay.SUCCESS,
            wechatpay.ABNORMAL,
            wechatpay.CLOSED,
        ):
            settled = RefundSettled(
                refund.out_refund_no, refund.status == wechatpay.SUCCESS, refund.status
            )
            return Notice(refund=settled)
        return Notice()


class AlipayChannel(Channel):
    """Alipay's WAP cashier, for the H5 pages outside WeChat."""

    code = PaymentChannel.ALIPAY
    out_trade_no = alipay.OUT_NO
    _errors, _rejected = alipay.AlipayError, alipay.AlipayRejected
    # Alipay's answer for a day without a bill (no trades, or not made yet).
    _NO_BILL = "isp.bill_not_exist"
    _PAID = (alipay.TradeStatus.TRADE_SUCCESS, alipay.TradeStatus.TRADE_FINISHED)

    def start(self, out_trade_no, subject, amount_fen, openid, expires_at) -> Started:
        with self._provider():
            pay_url = alipay.wap_pay_url(out_trade_no, subject, amount_fen, expires_at)
        return Started(pay_url=pay_url)

    def means_to_pay(self, started: Started) -> dict:
        return {"pay_url": started.pay_url}

    def paid_trade(self, out_trade_no) -> PaidTrade | None:
        with self._provider():
            trade = alipay.query(out_trade_no)
        if trade is None or trade.trade_status not in self._PAID:
            return None
        return PaidTrade(out_trade_no, trade.trade_no, trade.amount_fen, trade.paid_at)

    def close(self, out_trade_no) -> bool:
        with self._provider():
            # No trade yet: the signed cashier link stays payable until it expires.
            return alipay.close(out_trade_no)

    def refund(self, out_trade_no, total_fen, out_refund_no, amount_fen, reason) -> RefundSent:
        with self._provider():
            sent = alipay.refund(out_trade_no, out_refund_no, amount_fen, reason)
            # Only fund_change Y proves the money moved; otherwise Alipay's refund query must
            # find it (a repeat of a settled refund answers N), else it stays processing for
            # the sweep.
            done = sent.fund_change or (
                alipay.query_refund(out_trade_no, out_refund_no) is not None
            )
        return RefundSent(done, sent.trade_no)

    def bill(self, bill_date: date) -> list[Entry] | None:
        with self._provider():
            try:
                rows = alipay.trade_bill(bill_date)
            except alipay.AlipayRejected as rejected:
                if rejected.sub_code == self._NO_BILL:
                    return None
                raise
        return [self._entry(row) for row in rows]

    @staticmethod
    def _entry(row: alipay.BillRow) -> Entry:
        if row.type == "refund":
            # Alipay numbers a refund made without out_request_no by its out_trade_no.
            return Entry(
                row.out_trade_no,
                row.amount_fen,
                row.time,
                out_refund_no=row.out_request_no or row.out_trade_no,
                provider_no=row.trade_no,
            )
        return Entry(row.out_trade_no, row.amount_fen, row.time, provider_no=row.trade_no)

    def read_notification(self, form) -> Notice:
        try:
            notification = alipay.verify_notification(form)
        except alipay.NotificationInvalid as error:
            raise NoticeRefused(400, error.reason) from None
        if notification.trade_status not in self._PAID:
            return Notice()
        return Notice(
            paid=PaidTrade(
                notification.out_trade_no,
                notification.trade_no,
                notification.total_fen,
                notification.gmt_payment,
            )
        )


_CHANNELS = {channel.code: channel for channel in (WeChatPayChannel(), AlipayChannel())}


def channel(code: PaymentChannel) -> Channel:
    """The adapter of a payment channel."""
    return _CHANNELS[PaymentChannel(code)]
