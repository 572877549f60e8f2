"""Production refuses to start on development secrets, SQLite or the sandbox."""

import json

import pytest

import config


def test_production_refuses_missing_secrets(monkeypatch):
    for name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL", "FIELD_ENCRYPTION_KEYS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("TICKET_SIGNING_KEY", raising=False)
    with pytest.raises(config.ConfigError) as error:
        config.load_config("production")
    for name in (
        "SECRET_KEY",
        "DATABASE_URL",
        "REDIS_URL",
        "FIELD_ENCRYPTION_KEYS",
        "WECHAT_APPID",
        "ALIPAY_SELLER_ID",
    ):
        assert name in str(error.value)


def test_production_refuses_the_sandbox(monkeypatch):
    monkeypatch.setenv("WECHAT_API_BASE", "http://127.0.0.1:5000/sandbox/wechat/")
    with pytest.raises(config.ConfigError, match="WECHAT_API_BASE"):
        config.load_config("production")


REAL = {
    "SECRET_KEY": "s" * 40,
    "LOOKUP_HASH_KEY": "l" * 40,
    "FIELD_ENCRYPTION_KEYS": "k1:" + "A" * 43 + "=",
    "DATABASE_URL": "mysql+pymysql://app:pw@db:3306/booking?charset=utf8mb4",
    "REDIS_URL": "redis://cache:6379/0",
    "WECHAT_APPID": "wx1234567890abcdef",
    "WECHAT_SECRET": "w" * 32,
    "SMS_SECRET_ID": "AKIDexample",
    "SMS_SECRET_KEY": "m" * 32,
    "SMS_SDK_APP_ID": "1400123456",
    "TICKET_SIGNING_KEY": "A" * 43 + "=",
    "PUBLIC_BASE_URL": "https://booking.example-hospital.cn",
    "WECHATPAY_MCHID": "1900000109",
    "WECHATPAY_MERCHANT_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\n…",
    "WECHATPAY_MERCHANT_SERIAL_NO": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
    "WECHATPAY_APIV3_KEY": "k" * 32,
    "WECHATPAY_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\n…",
    "WECHATPAY_PUBLIC_KEY_ID": "PUB_KEY_ID_0114232134912410000000000000",
    "ALIPAY_APPID": "2021001234567890",
    "ALIPAY_SELLER_ID": "2088123412341234",
    "ALIPAY_APP_PRIVATE_KEY": "-----BEGIN PRIVATE KEY-----\n…",
    "ALIPAY_PUBLIC_KEY": "-----BEGIN PUBLIC KEY-----\n…",
    "WECHAT_TEMPLATES": json.dumps(config.SANDBOX_WECHAT_TEMPLATES),
}


def test_production_starts_with_real_settings(monkeypatch):
    for name, value in REAL.items():
        monkeypatch.setenv(name, value)
    settings = config.load_config("production")
    assert settings.SANDBOX_ENABLED is False
    assert settings.WECHAT_API_BASE == "https://api.weixin.qq.com/"
    assert settings.WECHATPAY_API_BASE == "https://api.mch.weixin.qq.com"
    assert settings.SANDBOX_WECHATPAY_PLATFORM_PRIVATE_KEY == ""


def test_an_unknown_environment_is_refused():
    with pytest.raises(config.ConfigError, match="APP_ENV"):
        config.load_config("staging")


def test_a_malformed_number_is_refused(monkeypatch):
    monkeypatch.setenv("HOLD_MINUTES", "fifteen")
    with pytest.raises(config.ConfigError, match="HOLD_MINUTES"):
        config.load_config("testing")


def test_a_hold_group_size_below_one_is_refused(monkeypatch):
    monkeypatch.setenv("HOLD_GROUP_SIZE", "0")
    with pytest.raises(config.ConfigError, match="HOLD_GROUP_SIZE must be at least 1"):
        config.load_config("testing")
    monkeypatch.setenv("HOLD_GROUP_SIZE", "1")
    assert config.load_config("testing").HOLD_GROUP_SIZE == 1


def test_a_forgotten_app_env_means_production(monkeypatch):
    monkeypatch.delenv("APP_ENV", raising=False)
    monkeypatch.delenv("SECRET_KEY", raising=False)
    with pytest.raises(config.ConfigError) as error:
        config.load_config()
    assert "SECRET_KEY" in str(error.value) and "APP_ENV=development" in str(error.value)


@pytest.mark.parametrize(
    "name, value",
    [
        ("FIELD_ENCRYPTION_KEYS", "k1:" + "A" * 7 + "="),  # 5 bytes
        ("FIELD_ENCRYPTION_KEYS", "k1:not base64!"),
        ("FIELD_ENCRYPTION_KEYS", "A" * 43 + "="),  # no key id
        ("FIELD_ENCRYPTION_KEYS", "k2:" + "A" * 43 + "=,k1:short"),
        ("TICKET_SIGNING_KEY", "not-base64-at-all"),
        ("TICKET_SIGNING_KEY", "A" * 20),
        ("WECHATPAY_API_BASE", "http://api.mch.weixin.qq.com"),
        ("ALIPAY_GATEWAY", "http://openapi.alipay.com/gateway.do"),
        ("ALIPAY_SELLER_ID", "2021001234567890"),  # an app id, not a PID
        ("ALIPAY_SELLER_ID", "2088 1234 1234 1234"),
    ],
)
def test_production_refuses_a_malformed_key_or_a_plain_http_provider(monkeypatch, name, value):
    for real_name, real_value in REAL.items():
        monkeypatch.setenv(real_name, real_value)
    monkeypatch.setenv(name, value)
    with pytest.raises(config.ConfigError, match=name):
        config.load_config("production")


@pytest.mark.parametrize(
    "templates",
    [
        None,
        "[]",
        "{not json",
        json.dumps({"booking_confirmed": {"template_id": "", "data": {"thing1": "patient"}}}),
        json.dumps({"booking_confirmed": {"template_id": "t1", "data": {}}}),
        json.dumps({"booking_confirmed": {"template_id": "t1", "data": {"thing1": 3}}}),
    ],
)
def test_production_refuses_missing_or_malformed_message_templates(monkeypatch, templates):
    for name, value in REAL.items():
        monkeypatch.setenv(name, value)
    if templates is None:
        monkeypatch.delenv("WECHAT_TEMPLATES")
    else:
        monkeypatch.setenv("WECHAT_TEMPLATES", templates)
    with pytest.raises(config.ConfigError, match="WECHAT_TEMPLATES"):
        config.load_config("production")
