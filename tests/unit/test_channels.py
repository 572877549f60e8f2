"""Every payment channel is one adapter behind the one interface the services use."""

import pytest

from app.domain.payments import PaymentChannel
from app.integrations import channels

INTERFACE = ("start", "means_to_pay", "paid_trade", "close", "refund", "bill", "read_notification")


@pytest.mark.parametrize("code", list(PaymentChannel))
def test_every_channel_has_an_adapter_that_implements_the_whole_interface(code):
    adapter = channels.channel(code)
    assert adapter.code is code
    assert channels.channel(code.value) is adapter  # stored values find it too
    for name in INTERFACE:
        assert getattr(type(adapter), name) is not getattr(channels.Channel, name), name


def test_the_adapters_say_which_accounts_can_pay_and_which_numbers_they_take():
    wechat, alipay = channels.channel("wechat"), channels.channel("alipay")
    assert (wechat.needs_openid, alipay.needs_openid) == (True, False)
    assert wechat.out_trade_no.fullmatch("BK12Wab12cd34")
    assert not wechat.out_trade_no.fullmatch("short")
    assert alipay.out_trade_no.fullmatch("BK12Aab12cd34")
    assert not alipay.out_trade_no.fullmatch("BK-12")  # Alipay takes letters, digits and _


def test_means_to_pay_are_what_each_client_needs():
    alipay = channels.channel(PaymentChannel.ALIPAY)
    started = channels.Started(pay_url="https://gateway.example/?sign=x")
    assert alipay.means_to_pay(started) == {"pay_url": "https://gateway.example/?sign=x"}
