"""Production refuses to start on development secrets, SQLite or the sandbox."""

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
    ):
        assert name in str(error.value)


def test_production_refuses_the_sandbox(monkeypatch):
    monkeypatch.setenv("WECHAT_API_BASE", "http://127.0.0.1:5000/sandbox/wechat/")
    with pytest.raises(config.ConfigError, match="WECHAT_API_BASE"):
        config.load_config("production")


def test_production_starts_with_real_settings(monkeypatch):
    real = {
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
    }
    for name, value in real.items():
        monkeypatch.setenv(name, value)
    settings = config.load_config("production")
    assert settings.SANDBOX_ENABLED is False
    assert settings.WECHAT_API_BASE == "https://api.weixin.qq.com/"


def test_an_unknown_environment_is_refused():
    with pytest.raises(config.ConfigError, match="APP_ENV"):
        config.load_config("staging")


def test_a_malformed_number_is_refused(monkeypatch):
    monkeypatch.setenv("HOLD_MINUTES", "fifteen")
    with pytest.raises(config.ConfigError, match="HOLD_MINUTES"):
        config.load_config("testing")
