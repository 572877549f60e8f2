"""The production WeChat adapter against the WeChat stand-in, over real HTTP."""

import base64
import socket

import pytest
import requests

import config as settings
from app import create_app
from app.extensions import redis_store
from app.integrations import wechat
from app.integrations.wechat import (
    CodeAlreadyUsed,
    InvalidCode,
    NoConsent,
    WeChat,
    WeChatError,
    WeChatUnavailable,
)
from tests.e2e.wechat_helpers import new_openid, tokens_issued

TEMPLATE = settings.SANDBOX_WECHAT_TEMPLATES["visit_reminder"]["template_id"]
REMINDER = {
    "name1": "张三",
    "thing2": "心内科 王医生",
    "time3": "2026-11-20 09:30",
    "thing4": "门诊楼三层",
    "thing5": "请提前 15 分钟到",
}


@pytest.fixture
def ctx(served):
    with served.app.app_context():
        yield


def adapter_with(served, **settings):
    """An adapter on the served app's config with ``settings`` changed; the app's config stays."""
    return WeChat.from_config({**served.app.config, **settings})


def stored_token(appid):
    return redis_store.client.get(f"wechat:{appid}_access_token")


# --- Login ---------------------------------------------------------------------------------------


def test_code_to_session_gives_openid_and_unionid(ctx, phone):
    openid = new_openid()

    session = wechat.code_to_session(phone.login_code(openid, unionid="u" + openid))

    assert session.openid == openid
    assert session.unionid == "u" + openid
    assert len(base64.b64decode(session.session_key)) == 16
    assert session.session_key not in repr(session)


def test_code_to_session_without_unionid(ctx, phone):
    openid = new_openid()

    session = wechat.code_to_session(phone.login_code(openid))

    assert (session.openid, session.unionid) == (openid, None)


def test_a_code_is_used_once(ctx, phone):
    code = phone.login_code(new_openid())
    wechat.code_to_session(code)

    with pytest.raises(CodeAlreadyUsed) as used:
        wechat.code_to_session(code)
    assert used.value.errcode == 40163
    assert isinstance(used.value, InvalidCode)


def test_an_unknown_code_is_invalid(ctx):
    with pytest.raises(InvalidCode) as invalid:
        wechat.code_to_session("0" * 32)
    assert invalid.value.errcode == 40029
    assert not isinstance(invalid.value, CodeAlreadyUsed)


@pytest.mark.parametrize(
    ("setting", "value", "errcode"),
    [("WECHAT_SECRET", "not-the-secret", 40125), ("WECHAT_APPID", "wx0000000000000bad", 40013)],
)
def test_wrong_credentials_are_refused(ctx, served, phone, setting, value, errcode):
    adapter = adapter_with(served, **{setting: value})

    with pytest.raises(WeChatError) as refused:
        adapter.code_to_session(phone.login_code(new_openid()))
    assert refused.value.errcode == errcode


def test_an_unreachable_wechat_is_unavailable(ctx, served):
    with socket.socket() as probe:  # a port nobody listens on once closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    adapter = adapter_with(served, WECHAT_API_BASE=f"http://127.0.0.1:{port}/")

    with pytest.raises(WeChatUnavailable):
        adapter.code_to_session("any")


def test_an_error_page_instead_of_wechat_is_unavailable(ctx, served):
    adapter = adapter_with(served, WECHAT_API_BASE=served.url + "/not-wechat/")

    with pytest.raises(WeChatUnavailable) as unavailable:
        adapter.code_to_session("any")
    assert "404" in unavailable.value.errmsg


# --- Phone number --------------------------------------------------------------------------------


def test_phone_number_from_a_phone_code(ctx, phone):
    code = phone.phone_code("13800138000")

    assert wechat.phone_number(code) == "13800138000"
    with pytest.raises(InvalidCode):
        wechat.phone_number(code)


# --- Subscription messages -----------------------------------------------------------------------


def test_sending_without_consent_is_refused(ctx):
    with pytest.raises(NoConsent) as refused:
        wechat.send_subscribe_message(new_openid(), TEMPLATE, REMINDER)
    assert refused.value.errcode == 43101


def test_one_consent_allows_one_message(ctx, phone):
    openid = new_openid()
    phone.allow(openid, TEMPLATE)

    msgid = wechat.send_subscribe_message(
        openid, TEMPLATE, REMINDER, page="packages/orders/pages/detail/index?id=7", state="trial"
    )

    assert isinstance(msgid, int)
    [message] = phone.messages(openid)
    assert message["msgid"] == msgid
    assert message["template_id"] == TEMPLATE
    assert message["page"] == "packages/orders/pages/detail/index?id=7"
    assert message["miniprogram_state"] == "trial"
    assert message["data"]["thing2"] == {"value": "心内科 王医生"}
    with pytest.raises(NoConsent):
        wechat.send_subscribe_message(openid, TEMPLATE, REMINDER)


def test_data_wechat_would_reject_spends_no_consent(ctx, phone):
    openid = new_openid()
    phone.allow(openid, TEMPLATE)

    with pytest.raises(WeChatError) as invalid:
        wechat.send_subscribe_message(openid, TEMPLATE, {**REMINDER, "thing2": "超" * 21})
    assert invalid.value.errcode == 47003

    assert wechat.send_subscribe_message(openid, TEMPLATE, REMINDER)
    assert len(phone.messages(openid)) == 1


# --- The access token ----------------------------------------------------------------------------


def test_a_revoked_token_is_refreshed_once(ctx, phone):
    openid = new_openid()
    phone.allow(openid, TEMPLATE, count=2)
    wechat.send_subscribe_message(openid, TEMPLATE, REMINDER)
    issued = tokens_issued()

    phone.expire_token()
    wechat.send_subscribe_message(openid, TEMPLATE, REMINDER)

    assert tokens_issued() == issued + 1
    assert len(phone.messages(openid)) == 2


def test_adapters_share_one_token_through_redis(ctx, served, phone):
    config = served.app.config
    phone.expire_token()  # so that the first adapter has to fetch a new one
    redis_store.client.delete(f"wechat:{config['WECHAT_APPID']}_access_token")
    openid = new_openid()
    phone.allow(openid, TEMPLATE, count=2)
    issued = tokens_issued()

    WeChat.from_config().send_subscribe_message(openid, TEMPLATE, REMINDER)
    token = stored_token(config["WECHAT_APPID"])
    WeChat.from_config().send_subscribe_message(openid, TEMPLATE, REMINDER)

    assert tokens_issued() == issued + 1
    assert token is not None
    assert stored_token(config["WECHAT_APPID"]) == token


# --- The stand-in itself -------------------------------------------------------------------------


def test_stable_token_stays_until_forced(served):
    config = served.app.config
    body = {
        "grant_type": "client_credential",
        "appid": config["WECHAT_APPID"],
        "secret": config["WECHAT_SECRET"],
    }
    url = served.url + "/sandbox/wechat/cgi-bin/stable_token"

    first = requests.post(url, json=body, timeout=10).json()
    again = requests.post(url, json=body, timeout=10).json()
    forced = requests.post(url, json={**body, "force_refresh": True}, timeout=10).json()

    assert again["access_token"] == first["access_token"]
    assert 0 < again["expires_in"] <= 7200
    assert forced["access_token"] != first["access_token"]
    refused = requests.post(
        served.url + "/sandbox/wechat/cgi-bin/message/subscribe/send",
        params={"access_token": first["access_token"]},
        json={"touser": new_openid(), "template_id": TEMPLATE, "data": {"thing1": {"value": "x"}}},
        timeout=10,
    )
    assert refused.status_code == 200  # WeChat reports errors inside a 200
    assert refused.json()["errcode"] == 40001


def test_control_endpoints_validate_with_the_error_envelope(http):
    response = http.post("/sandbox/wechat/login-code", json={"openid": "has spaces"})

    assert response.status_code == 422
    body = response.json()
    assert body["code"] == "validation_error"
    assert "openid" in body["errors"]


def test_the_sandbox_does_not_exist_when_disabled():
    config = settings.TestingConfig()
    config.SANDBOX_ENABLED = False
    # Nothing listens here: building the app and answering a 404 must not connect to anything.
    config.SQLALCHEMY_DATABASE_URI = "mysql+pymysql://root@127.0.0.1:1/nowhere?charset=utf8mb4"
    config.REDIS_URL = "redis://127.0.0.1:1/0"
    app = create_app(config)

    response = app.test_client().post("/sandbox/wechat/login-code", json={"openid": "o1"})

    assert response.status_code == 404
    assert response.get_json()["code"] == "not_found"
