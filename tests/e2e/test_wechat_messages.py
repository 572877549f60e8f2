"""Subscription messages through the production adapter, judged by the WeChat stand-in as WeChat
judges them: the template, each keyword's value rule, the page, then the user's consent."""

import re

import pytest

import config as settings
from app.integrations import wechat
from app.integrations.wechat import (
    InvalidData,
    InvalidOpenid,
    InvalidPage,
    InvalidTemplate,
    NoConsent,
)
from tests.e2e.wechat_helpers import new_openid

TEMPLATES = settings.SANDBOX_WECHAT_TEMPLATES
REMINDER = TEMPLATES["visit_reminder"]["template_id"]
REMINDER_DATA = {
    "name1": "张三",
    "thing2": "心内科 王医生",
    "time3": "2026年11月20日 09:30",
    "thing4": "门诊楼三层",
    "thing5": "请提前 15 分钟到",
}
ORDER_PAGE = "packages/orders/pages/detail/index?id=7"

# A template with one keyword of every type WeChat has, the last an enum.
EVERY_TYPE = "sandboxTmplEveryType"
EVERY_TYPE_DATA = {
    "thing1": "心内科",
    "number2": "3",
    "letter3": "A",
    "symbol4": "#",
    "character_string5": "A012",
    "time6": "15:01",
    "date7": "2019年10月1日",
    "amount8": "¥25.00",
    "phone_number9": "+86-0766-66888866",
    "car_number10": "粤A8Z888挂",
    "name11": "张三",
    "phrase12": "配送中",
    "enum_string13": "已预约",
}
ENUM_VALUES = ["已预约", "已取消"]
ACCEPTED = "accepted"


@pytest.fixture
def ctx(served):
    with served.app.app_context():
        yield


@pytest.fixture
def every_type(served, monkeypatch):
    """The stand-in's library with the EVERY_TYPE template added."""
    library = served.app.config["SANDBOX_WECHAT_TEMPLATE_LIBRARY"]
    keywords = dict.fromkeys(EVERY_TYPE_DATA) | {"enum_string13": ENUM_VALUES}
    monkeypatch.setitem(
        served.app.config, "SANDBOX_WECHAT_TEMPLATE_LIBRARY", {**library, EVERY_TYPE: keywords}
    )


def verdict(template_id, data, page=None):
    """WeChat's answer to ``data`` sent to a user who gave no consent: ACCEPTED when only the
    missing consent stops it (43101 is judged after everything else), else the errmsg."""
    try:
        wechat.send_subscribe_message(new_openid(), template_id, data, page=page)
    except NoConsent:
        return ACCEPTED
    except InvalidData as refused:
        return refused.errmsg
    raise AssertionError("sent without consent")


# --- Accepted ------------------------------------------------------------------------------------


def sample(keyword):
    """A value WeChat accepts for ``keyword``, by its type."""
    samples = {
        "name": "张三",
        "thing": "心内科",
        "time": "2026年11月20日 09:30",
        "character_string": "A012",
        "number": "3",
        "amount": "¥25.00",
        "phrase": "退款成功",
    }
    return samples[re.sub(r"[0-9]+$", "", keyword)]


@pytest.mark.parametrize("kind", sorted(TEMPLATES))
def test_every_template_of_the_app_is_one_wechat_knows(ctx, phone, kind):
    template = TEMPLATES[kind]
    openid = new_openid()
    phone.allow(openid, template["template_id"])
    data = {keyword: sample(keyword) for keyword in template["data"]}

    msgid = wechat.send_subscribe_message(
        openid, template["template_id"], data, page=template["page"].format(order_id=7)
    )

    assert isinstance(msgid, int)


def test_an_accepted_message_is_listed_with_its_data(ctx, phone):
    openid = new_openid()
    phone.allow(openid, REMINDER)

    msgid = wechat.send_subscribe_message(openid, REMINDER, REMINDER_DATA, page=ORDER_PAGE)

    [message] = phone.messages(openid)
    assert message["msgid"] == msgid
    assert message["template_id"] == REMINDER
    assert message["page"] == ORDER_PAGE
    assert message["data"] == {key: {"value": value} for key, value in REMINDER_DATA.items()}


def test_each_message_spends_one_consent(ctx, phone):
    openid = new_openid()
    phone.allow(openid, REMINDER, count=2)

    wechat.send_subscribe_message(openid, REMINDER, REMINDER_DATA)
    wechat.send_subscribe_message(openid, REMINDER, REMINDER_DATA)
    with pytest.raises(NoConsent) as refused:
        wechat.send_subscribe_message(openid, REMINDER, REMINDER_DATA)

    assert refused.value.errcode == 43101
    assert len(phone.messages(openid)) == 2
    assert phone.allow(openid, REMINDER)["remaining"] == 1  # it was down to none


# --- Refused before the consent is looked at -----------------------------------------------------


@pytest.mark.parametrize("openid", ["", "has spaces", "o" * 65])
def test_a_bad_openid_is_refused(ctx, openid):
    with pytest.raises(InvalidOpenid) as refused:
        wechat.send_subscribe_message(openid, REMINDER, REMINDER_DATA)
    assert refused.value.errcode == 40003


def test_a_template_that_is_not_the_apps_is_refused(ctx, phone):
    openid = new_openid()
    phone.allow(openid, "sandboxTmplSomeoneElses")

    with pytest.raises(InvalidTemplate) as refused:
        wechat.send_subscribe_message(openid, "sandboxTmplSomeoneElses", REMINDER_DATA)

    assert (refused.value.errcode, refused.value.errmsg) == (40037, "invalid template_id")
    assert phone.messages(openid) == []


@pytest.mark.parametrize(
    ("data", "errmsg"),
    [
        ({**REMINDER_DATA, "time3": "2026-11-20 09:30:00"}, "data.time3.value invalid"),
        ({**REMINDER_DATA, "thing2": "超" * 21}, "data.thing2.value invalid"),
        ({**REMINDER_DATA, "thing2": ""}, "data.thing2.value is empty"),
        (
            {key: v for key, v in REMINDER_DATA.items() if key != "thing4"},
            "data.thing4.value is empty",
        ),
        ({**REMINDER_DATA, "thing9": "多出来的"}, "data.thing9 invalid"),
        ({**REMINDER_DATA, "thing4": {"text": "门诊楼三层"}}, "data.thing4.value is empty"),
    ],
    ids=["bad-value", "too-long", "blank", "missing", "not-in-template", "not-a-value"],
)
def test_data_wechat_refuses_is_47003_naming_the_keyword(ctx, data, errmsg):
    assert verdict(REMINDER, data) == f"argument invalid! {errmsg}"


@pytest.mark.parametrize(
    "page", ["pages/order/detail?id=7", "/" + ORDER_PAGE, "packages/orders/pages/detail"]
)
def test_a_page_outside_the_mini_program_is_refused(ctx, page):
    with pytest.raises(InvalidPage) as refused:
        wechat.send_subscribe_message(new_openid(), REMINDER, REMINDER_DATA, page=page)
    assert (refused.value.errcode, refused.value.errmsg) == (41030, "invalid page")


@pytest.mark.parametrize(
    "page", ["pages/home/index", "packages/orders/pages/visit/index?id=3&from=message", None]
)
def test_pages_of_the_mini_program_are_accepted(ctx, page):
    assert verdict(REMINDER, REMINDER_DATA, page=page) == ACCEPTED


def test_a_refused_message_spends_no_consent(ctx, phone):
    openid = new_openid()
    phone.allow(openid, REMINDER)

    with pytest.raises(InvalidData):
        wechat.send_subscribe_message(openid, REMINDER, {**REMINDER_DATA, "name1": "用户410774"})
    with pytest.raises(InvalidPage):
        wechat.send_subscribe_message(openid, REMINDER, REMINDER_DATA, page="pages/nowhere")
    wechat.send_subscribe_message(openid, REMINDER, REMINDER_DATA)

    assert len(phone.messages(openid)) == 1


# --- The value rules of each keyword type --------------------------------------------------------


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("thing1", "超" * 20),
        ("thing1", "Room 3, 门诊楼 #2"),
        ("number2", "1" * 32),
        ("number2", "3.14"),
        ("letter3", "a" * 32),
        ("symbol4", "#" * 5),
        ("symbol4", "+-"),
        ("character_string5", "A" * 32),
        ("character_string5", "2026-0001#7"),
        ("time6", "9:05"),
        ("time6", "2019年10月1日 15:01"),
        ("time6", "2019-10-01 15:01"),
        ("time6", "15:01~16:00"),
        ("time6", "2019年10月1日 15:01~2019年10月1日 16:00"),
        ("date7", "2015年01月05日"),
        ("date7", "2019-10-01"),
        ("date7", "2019年10月1日 15:01"),
        ("date7", "2019年10月1日~2019年10月3日"),
        ("amount8", "￥25"),
        ("amount8", "¥25.00元"),
        ("amount8", "$1234567890"),
        ("phone_number9", "1" * 17),
        ("phone_number9", "(020)12345678"),
        ("car_number10", "粤A12345"),
        ("name11", "欧阳" * 5),
        ("name11", "J" * 20),
        ("name11", "Tom Hanks"),
        ("name11", "Tom张"),
        ("phrase12", "退款成功"),
        ("enum_string13", "已取消"),
    ],
)
def test_values_wechat_accepts(ctx, every_type, keyword, value):
    assert verdict(EVERY_TYPE, {**EVERY_TYPE_DATA, keyword: value}) == ACCEPTED


@pytest.mark.parametrize(
    ("keyword", "value"),
    [
        ("thing1", "超" * 21),
        ("number2", "1" * 33),
        ("number2", "-3"),
        ("number2", "3."),
        ("number2", "三"),
        ("letter3", "a" * 33),
        ("letter3", "ab1"),
        ("symbol4", "#" * 6),
        ("symbol4", "a#"),
        ("character_string5", "A" * 33),
        ("character_string5", "编号12"),
        ("character_string5", "A 12"),
        ("time6", "2019年10月1日"),
        ("time6", "15:01:30"),
        ("time6", "25:00"),
        ("time6", "15:01 ~ 16:00"),
        ("time6", "2019/10/01 15:01"),
        ("date7", "15:01"),
        ("date7", "2019/10/01"),
        ("date7", "2019-13-01"),
        ("date7", "2019-10-01 15:01:30"),
        ("amount8", "25.00"),
        ("amount8", "25元"),
        ("amount8", "¥12345678901"),
        ("amount8", "¥¥25"),
        ("phone_number9", "1" * 18),
        ("phone_number9", "138-0013-800a"),
        ("car_number10", "粤A1234567"),
        ("car_number10", "粤挂A123"),
        ("name11", "欧阳" * 5 + "娜"),
        ("name11", "J" * 21),
        ("name11", "用户410774"),
        ("phrase12", "略略略略略略"),
        ("phrase12", "OK"),
        ("phrase12", "配送 中"),
        ("enum_string13", "已完成"),
    ],
)
def test_values_wechat_refuses(ctx, every_type, keyword, value):
    data = {**EVERY_TYPE_DATA, keyword: value}

    assert verdict(EVERY_TYPE, data) == f"argument invalid! data.{keyword}.value invalid"


def test_an_enum_keyword_takes_only_the_listed_values(ctx, phone, every_type):
    openid = new_openid()
    phone.allow(openid, EVERY_TYPE)

    with pytest.raises(InvalidData) as refused:
        wechat.send_subscribe_message(
            openid, EVERY_TYPE, {**EVERY_TYPE_DATA, "enum_string13": "已 预约"}
        )
    wechat.send_subscribe_message(openid, EVERY_TYPE, EVERY_TYPE_DATA)

    assert refused.value.errmsg == "argument invalid! data.enum_string13.value invalid"
    [message] = phone.messages(openid)
    assert message["data"]["enum_string13"] == {"value": "已预约"}
