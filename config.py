"""Configuration: the only module that reads the environment.

``load_config()`` picks a class by ``APP_ENV`` (development, testing, production) and builds it from
the environment at call time, never at import time.
"""

import base64
import functools
import json
import os
import secrets
from pathlib import Path
from typing import ClassVar

BASE_DIR = Path(__file__).resolve().parent

# Marks values fit only for a developer's machine or a test run; production refuses them.
DEV_ONLY_PREFIX = "dev-only-"


# Subscription-message templates (订阅消息), per kind: the template id picked in the mini-program's
# console (and its title there), the page a tap on the message opens ({order_id} is filled in),
# and which value of the message fills each keyword. A keyword's type is its name less the
# number (thing, name, time, character_string, number, amount, phrase ...): app/domain/messages.py
# fits each value to it.
# These are the WeChat stand-in's templates (app/sandbox/wechat.py); production sets its own
# in WECHAT_TEMPLATES, JSON of the same shape.
_ORDER_PAGE = "packages/orders/pages/detail/index?id={order_id}"
SANDBOX_WECHAT_TEMPLATES = {
    "booking_confirmed": {
        "title": "预约成功通知",
        "template_id": "sandboxTmplBookingConfirmed000000000000001",
        "page": _ORDER_PAGE,
        "data": {
            "name1": "patient",
            "thing2": "department",
            "time3": "visit_time",
            "character_string4": "number",
            "thing5": "location",
        },
    },
    "visit_reminder": {
        "title": "就诊提醒",
        "template_id": "sandboxTmplVisitReminder0000000000000000002",
        "page": _ORDER_PAGE,
        "data": {
            "name1": "patient",
            "thing2": "department",
            "time3": "visit_time",
            "thing4": "location",
            "thing5": "note",
        },
    },
    "stop_clinic": {
        "title": "停诊通知",
        "template_id": "sandboxTmplStopClinic0000000000000000000003",
        "page": _ORDER_PAGE,
        "data": {
            "name1": "patient",
            "thing2": "doctor",
            "time3": "visit_time",
            "thing4": "reason",
            "thing5": "note",
        },
    },
    "refund_result": {
        "title": "退款结果通知",
        "template_id": "sandboxTmplRefundResult00000000000000000004",
        "page": _ORDER_PAGE,
        "data": {
            "thing1": "department",
            "amount2": "amount",
            "phrase3": "result",
            "time4": "time",
            "thing5": "note",
        },
    },
    "queue_called": {
        "title": "叫号提醒",
        "template_id": "sandboxTmplQueueCalled00000000000000000005",
        "page": "packages/orders/pages/visit/index?id={order_id}",
        "data": {
            "name1": "patient",
            "thing2": "department",
            "character_string3": "number",
            "number4": "ahead",
            "thing5": "note",
        },
    },
}


class ConfigError(RuntimeError):
    """A setting is missing or unsafe for the chosen environment."""


def env(name, default=None):
    """The environment variable ``name``, or ``default`` when unset or empty."""
    value = os.environ.get(name)
    return default if value in (None, "") else value


def _env_json(name, default):
    """A JSON object from the environment, or ``default``."""
    value = env(name)
    if value is None:
        return default
    try:
        parsed = json.loads(value)
    except ValueError:
        raise ConfigError(f"{name} must be a JSON object") from None
    if not isinstance(parsed, dict):
        raise ConfigError(f"{name} must be a JSON object")
    return parsed


def _template_problems(templates) -> list[str]:
    """What is wrong with a WECHAT_TEMPLATES value (see SANDBOX_WECHAT_TEMPLATES)."""
    problems = []
    for kind, template in templates.items():
        fields = template.get("data") if isinstance(template, dict) else None
        if (
            not isinstance(template, dict)
            or not isinstance(template.get("template_id"), str)
            or not template["template_id"]
            or not isinstance(fields, dict)
            or not fields
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in fields.items())
            or not isinstance(template.get("page", ""), str)
        ):
            problems.append(
                f"WECHAT_TEMPLATES[{kind!r}] needs a template_id and data {{keyword: value}}"
            )
    return problems


def _env_int(name, default, minimum=None):
    value = env(name, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None
    if minimum is not None and number < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, not {number}")
    return number


def _dev_secrets():
    """Random secrets for a developer's machine, made once and kept in instance/ (never in git).

    Every process of ``make run`` (gunicorn workers, the RQ worker) reads the same file, so what one
    encrypts another can read.
    """
    path = BASE_DIR / "instance" / "dev-secrets.json"
    if path.exists():
        return json.loads(path.read_text())
    values = _random_secrets()
    path.parent.mkdir(exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(values))
    try:
        os.link(tmp, path)  # first writer wins; a concurrent starter reads the winner's file
    except FileExistsError:
        pass
    finally:
        tmp.unlink()
    return json.loads(path.read_text())


def rsa_private_pem():
    """A fresh RSA-2048 private key, PEM (PKCS#8): stand-in keys of development and test runs."""
    # Imported here: only development and test runs generate keys.
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(private_pem):
    """The public half of a PEM private key, PEM (SubjectPublicKeyInfo)."""
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@functools.cache
def _test_secrets():
    """One set per test run: every app and adapter of the run shares it; databases are new."""
    return _random_secrets()


def _random_secrets():
    key = base64.b64encode(secrets.token_bytes(32)).decode()
    # The payment stand-ins' own keys (they play WeChat Pay and Alipay) and our merchant keys:
    # generated per machine or per test run, never committed, refused by production.
    wechatpay_platform = rsa_private_pem()
    alipay_platform = rsa_private_pem()
    return {
        "WECHATPAY_MERCHANT_PRIVATE_KEY": rsa_private_pem(),
        "WECHATPAY_APIV3_KEY": secrets.token_hex(16),
        "SANDBOX_WECHATPAY_PLATFORM_PRIVATE_KEY": wechatpay_platform,
        "WECHATPAY_PUBLIC_KEY": public_pem(wechatpay_platform),
        "ALIPAY_APP_PRIVATE_KEY": rsa_private_pem(),
        "SANDBOX_ALIPAY_PRIVATE_KEY": alipay_platform,
        "ALIPAY_PUBLIC_KEY": public_pem(alipay_platform),
        "SECRET_KEY": DEV_ONLY_PREFIX + secrets.token_urlsafe(32),
        "FIELD_ENCRYPTION_KEYS": f"dev1:{key}",
        "LOOKUP_HASH_KEY": DEV_ONLY_PREFIX + secrets.token_urlsafe(32),
        "WECHAT_SECRET": DEV_ONLY_PREFIX + secrets.token_hex(8),
        "SMS_SECRET_KEY": DEV_ONLY_PREFIX + secrets.token_hex(16),
        "TICKET_SIGNING_KEY": base64.b64encode(secrets.token_bytes(32)).decode(),
    }


def _env_bool(name, default):
    value = env(name)
    if value is None:
        return default
    return value.strip().lower() in ("1", "true", "yes", "on")


class Config:
    """Settings shared by every environment."""

    ENV_NAME = "base"
    SANDBOX_ENABLED = False
    TESTING = False
    DEBUG = False
    SQLALCHEMY_TRACK_MODIFICATIONS = False
    # No ping at every checkout and no ROLLBACK at every return: app.infra.database.tune_pool pings
    # connections that were idle and rolls back only those SQLAlchemy did not just end.
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict] = {
        "pool_pre_ping": False,
        "pool_reset_on_return": None,
        "pool_recycle": 3600,
    }

    JSON_AS_ASCII = False
    # Bodies past this are refused (413) before they are read: an API call or a payment
    # notification is a few KB.
    MAX_CONTENT_LENGTH = 64 * 1024
    API_TITLE = "预约挂号 API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"

    default_database_url = f"sqlite:///{BASE_DIR / 'instance' / 'dev.db'}"
    default_redis_url = "redis://127.0.0.1:6379/0"
    default_wechat_api_base = "https://api.weixin.qq.com/"
    default_sms_api_base = "https://sms.tencentcloudapi.com/"
    default_wechatpay_api_base = "https://api.mch.weixin.qq.com"
    default_alipay_gateway = "https://openapi.alipay.com/gateway.do"
    default_public_base_url = ""
    default_wechat_templates: ClassVar[dict] = {}

    def generated_secrets(self):
        """Secrets used where the environment gives none; production has none to give."""
        return {}

    def __init__(self):
        generated = self.generated_secrets()
        self.SECRET_KEY = env("SECRET_KEY", generated.get("SECRET_KEY", ""))
        # Field encryption (ID and phone numbers at rest): "kid:base64(32 bytes)[,kid:...]", the
        # first key encrypts, all decrypt, so keys can rotate. The lookup key makes keyed hashes.
        self.FIELD_ENCRYPTION_KEYS = env(
            "FIELD_ENCRYPTION_KEYS", generated.get("FIELD_ENCRYPTION_KEYS", "")
        )
        self.LOOKUP_HASH_KEY = env("LOOKUP_HASH_KEY", generated.get("LOOKUP_HASH_KEY", ""))
        # WeChat mini-program credentials; the API base points at /sandbox/wechat/ off production.
        self.WECHAT_APPID = env("WECHAT_APPID", "wx" + "0" * 15 + "1")
        self.WECHAT_SECRET = env("WECHAT_SECRET", generated.get("WECHAT_SECRET", ""))
        self.WECHAT_API_BASE = env("WECHAT_API_BASE", self.default_wechat_api_base)
        # Bearer tokens of patients: lifetime in seconds.
        self.TOKEN_TTL_SECONDS = _env_int("TOKEN_TTL_SECONDS", 7 * 24 * 3600)
        self.MAX_PATIENTS_PER_ACCOUNT = _env_int("MAX_PATIENTS_PER_ACCOUNT", 5)
        # Ed25519 seed (base64 of 32 bytes) signing e-ticket QR payloads; staff scanners verify
        # them offline with the public key from /api/v1/tickets/public-key.
        self.TICKET_SIGNING_KEY = env("TICKET_SIGNING_KEY", generated.get("TICKET_SIGNING_KEY", ""))
        self.RESCHEDULE_LIMIT = _env_int("RESCHEDULE_LIMIT", 2)
        # Holds that threads of one process ask for at once share one transaction (group
        # commit), at most this many; 1 turns grouping off.
        self.HOLD_GROUP_SIZE = _env_int("HOLD_GROUP_SIZE", 32, minimum=1)
        # A group's leader waits at most this long (ms) for the holds its process's threads are
        # still on their way with (app/infra/groupcommit.py); 0 never waits.
        self.HOLD_GROUP_LINGER_MS = _env_int("HOLD_GROUP_LINGER_MS", 10, minimum=0)
        # Where the payment channels send their notifications: our own public HTTPS address.
        self.PUBLIC_BASE_URL = env("PUBLIC_BASE_URL", self.default_public_base_url).rstrip("/")
        # WeChat Pay APIv3 (JSAPI in the mini-program), "WeChat Pay public key" mode.
        self.WECHATPAY_MCHID = env("WECHATPAY_MCHID", "1900000109")
        self.WECHATPAY_MERCHANT_PRIVATE_KEY = env(
            "WECHATPAY_MERCHANT_PRIVATE_KEY", generated.get("WECHATPAY_MERCHANT_PRIVATE_KEY", "")
        )
        self.WECHATPAY_MERCHANT_SERIAL_NO = env(
            "WECHATPAY_MERCHANT_SERIAL_NO", "5157F09EFDC096DE15EBE81A47057A72" + "DEV00001"
        )
        self.WECHATPAY_APIV3_KEY = env(
            "WECHATPAY_APIV3_KEY", generated.get("WECHATPAY_APIV3_KEY", "")
        )
        self.WECHATPAY_PUBLIC_KEY = env(
            "WECHATPAY_PUBLIC_KEY", generated.get("WECHATPAY_PUBLIC_KEY", "")
        )
        self.WECHATPAY_PUBLIC_KEY_ID = env("WECHATPAY_PUBLIC_KEY_ID", "PUB_KEY_ID_0119000000DEV1")
        self.WECHATPAY_API_BASE = env("WECHATPAY_API_BASE", self.default_wechatpay_api_base)
        # Alipay (H5 / WAP), RSA2.
        self.ALIPAY_APPID = env("ALIPAY_APPID", "2021000000000001")
        # Our merchant's PID (2088 and 12 digits, the stand-in's off production): the seller_id
        # an Alipay notify must name.
        self.ALIPAY_SELLER_ID = env("ALIPAY_SELLER_ID", "2088102177846880")
        self.ALIPAY_APP_PRIVATE_KEY = env(
            "ALIPAY_APP_PRIVATE_KEY", generated.get("ALIPAY_APP_PRIVATE_KEY", "")
        )
        self.ALIPAY_PUBLIC_KEY = env("ALIPAY_PUBLIC_KEY", generated.get("ALIPAY_PUBLIC_KEY", ""))
        self.ALIPAY_GATEWAY = env("ALIPAY_GATEWAY", self.default_alipay_gateway)
        # Only where SANDBOX_ENABLED: the private keys with which the stand-ins sign as WeChat Pay
        # and Alipay (their public halves are WECHATPAY_PUBLIC_KEY and ALIPAY_PUBLIC_KEY).
        self.SANDBOX_WECHATPAY_PLATFORM_PRIVATE_KEY = generated.get(
            "SANDBOX_WECHATPAY_PLATFORM_PRIVATE_KEY", ""
        )
        self.SANDBOX_ALIPAY_PRIVATE_KEY = generated.get("SANDBOX_ALIPAY_PRIVATE_KEY", "")
        # SMS for phone login (H5): Tencent Cloud SMS API 3.0; the sandbox off production.
        self.SMS_API_BASE = env("SMS_API_BASE", self.default_sms_api_base)
        self.SMS_SECRET_ID = env("SMS_SECRET_ID", "AKID-dev-only")
        self.SMS_SECRET_KEY = env("SMS_SECRET_KEY", generated.get("SMS_SECRET_KEY", ""))
        self.SMS_SDK_APP_ID = env("SMS_SDK_APP_ID", "1400000000")
        self.SMS_SIGN_NAME = env("SMS_SIGN_NAME", "预约挂号")
        self.SMS_TEMPLATE_ID = env("SMS_TEMPLATE_ID", "100001")
        self.SMS_REGION = env("SMS_REGION", "ap-guangzhou")
        # SMS login limits: a code lives 5 minutes and allows 5 tries.
        self.SMS_CODE_TTL_SECONDS = _env_int("SMS_CODE_TTL_SECONDS", 300)
        self.SMS_CODE_MAX_TRIES = _env_int("SMS_CODE_MAX_TRIES", 5)
        self.SMS_PER_PHONE_PER_MINUTE = _env_int("SMS_PER_PHONE_PER_MINUTE", 1)
        self.SMS_PER_PHONE_PER_DAY = _env_int("SMS_PER_PHONE_PER_DAY", 10)
        self.SMS_PER_IP_PER_HOUR = _env_int("SMS_PER_IP_PER_HOUR", 20)
        # How many reverse proxies (nginx, a load balancer) stand in front and set X-Forwarded-For:
        # the client IP of per-IP limits is read from that many hops. 0: the peer address itself.
        self.TRUSTED_PROXIES = _env_int("TRUSTED_PROXIES", 0)
        # One JSON log line per request (method, path, status, duration, request id).
        self.LOG_REQUESTS = _env_bool("LOG_REQUESTS", True)
        # Where the gunicorn workers count their metrics together (set by gunicorn.conf.py).
        self.METRICS_MULTIPROC_DIR = env("PROMETHEUS_MULTIPROC_DIR")
        self.SQLALCHEMY_DATABASE_URI = env("DATABASE_URL", self.default_database_url)
        if self.SQLALCHEMY_DATABASE_URI.startswith("mysql"):
            # Locking reads and plain reads then agree on what is committed, and InnoDB takes no
            # gap locks: the release-morning holds neither read stale counts nor deadlock on gaps.
            # 20 connections kept per process: a gthread worker of 16 threads never waits for
            # one, nor opens and drops one per request under load (the pool discards overflow
            # connections on return, and each new one costs a handshake and an SSL context).
            self.SQLALCHEMY_ENGINE_OPTIONS = {
                **self.SQLALCHEMY_ENGINE_OPTIONS,
                "isolation_level": "READ COMMITTED",
                "pool_size": 20,
                "max_overflow": 10,
            }
        self.REDIS_URL = env("REDIS_URL", self.default_redis_url)
        # Connect/read timeout for Redis in seconds: a Redis that hangs must not hang a request.
        self.REDIS_SOCKET_TIMEOUT = float(env("REDIS_SOCKET_TIMEOUT", "0.5"))
        # After a Redis call times out, Redis is skipped (as if down) for this many seconds.
        self.REDIS_SKIP_SECONDS = float(env("REDIS_SKIP_SECONDS", "2"))
        # Subscription messages: the templates per kind (see SANDBOX_WECHAT_TEMPLATES) and
        # which version of the mini-program a tap opens (developer, trial, formal).
        self.WECHAT_TEMPLATES = _env_json("WECHAT_TEMPLATES", self.default_wechat_templates)
        self.WECHAT_MINIPROGRAM_STATE = env("WECHAT_MINIPROGRAM_STATE", "formal")
        # The templates the WeChat stand-in knows: id -> {keyword: None, or the values an enum
        # keyword allows}, and their titles as the patient's phone shows them.
        self.SANDBOX_WECHAT_TEMPLATE_LIBRARY = {
            template["template_id"]: dict.fromkeys(template["data"])
            for template in SANDBOX_WECHAT_TEMPLATES.values()
        }
        self.SANDBOX_WECHAT_TEMPLATE_TITLES = {
            template["template_id"]: template["title"]
            for template in SANDBOX_WECHAT_TEMPLATES.values()
        }
        # The SMS template of a stop-clinic notice to a patient who gave no WeChat consent:
        # {1} patient, {2} date, {3} period, {4} doctor, {5} reason (6 characters each at most).
        self.SMS_STOP_CLINIC_TEMPLATE_ID = env("SMS_STOP_CLINIC_TEMPLATE_ID", "100002")
        # Hospital booking rules: the defaults given to new and seeded hospitals.
        self.HOLD_MINUTES = _env_int("HOLD_MINUTES", 15)
        self.BOOKING_WINDOW_DAYS = _env_int("BOOKING_WINDOW_DAYS", 7)
        self.RELEASE_TIME = env("RELEASE_TIME", "07:00")
        # The visit day (app/domain/visits.py): check-in opens this long before the period starts;
        # a patient later than their suggested time plus the grace waits behind those waiting;
        # the patient is told when this many are ahead; skipped this often, a no-show.
        self.CHECK_IN_OPENS_MINUTES = _env_int("CHECK_IN_OPENS_MINUTES", 60, minimum=0)
        self.ARRIVAL_GRACE_MINUTES = _env_int("ARRIVAL_GRACE_MINUTES", 15, minimum=0)
        self.QUEUE_CALLED_AHEAD = _env_int("QUEUE_CALLED_AHEAD", 3, minimum=0)
        self.MAX_SKIPS = _env_int("MAX_SKIPS", 2, minimum=1)
        # No-shows (爽约): booked orders not checked in this long after their period ends; this
        # many in the window block new holds for the block's days.
        self.NO_SHOW_GRACE_MINUTES = _env_int("NO_SHOW_GRACE_MINUTES", 30, minimum=0)
        self.NO_SHOW_STRIKES = _env_int("NO_SHOW_STRIKES", 3, minimum=1)
        self.NO_SHOW_WINDOW_DAYS = _env_int("NO_SHOW_WINDOW_DAYS", 90, minimum=1)
        self.NO_SHOW_BLOCK_DAYS = _env_int("NO_SHOW_BLOCK_DAYS", 30, minimum=1)
        # Visit reminders: the evening before (from this hour, China time) and this many minutes
        # before the suggested arrival time.
        self.REMINDER_EVENING_HOUR = _env_int("REMINDER_EVENING_HOUR", 20, minimum=0)
        self.REMINDER_BEFORE_MINUTES = _env_int("REMINDER_BEFORE_MINUTES", 60, minimum=1)
        # The staff admin: a session idle this long ends; its cookie is HttpOnly and SameSite,
        # and Secure wherever the admin is served over HTTPS (production).
        self.ADMIN_IDLE_MINUTES = _env_int("ADMIN_IDLE_MINUTES", 30, minimum=1)
        self.SESSION_COOKIE_HTTPONLY = True
        self.SESSION_COOKIE_SAMESITE = "Lax"
        self.SESSION_COOKIE_SECURE = self.ENV_NAME == "production"
        # Statistics' anomalies: this many orders from one account (an account may hold 3 a
        # day) or one IP address (many patients share a hospital's or a carrier's address)
        # within this many minutes, in one hospital, are a burst of holds.
        self.STATS_BURST_ACCOUNT_HOLDS = _env_int("STATS_BURST_ACCOUNT_HOLDS", 3, minimum=2)
        self.STATS_BURST_IP_HOLDS = _env_int("STATS_BURST_IP_HOLDS", 10, minimum=2)
        self.STATS_BURST_MINUTES = _env_int("STATS_BURST_MINUTES", 10, minimum=1)
        # How long a catalogue read (calendar, schedules) may be served from Redis, in seconds.
        self.CATALOGUE_CACHE_SECONDS = _env_int("CATALOGUE_CACHE_SECONDS", 60)
        # Serve no cached page of an account's own without computing it anew and comparing:
        # a stale one raises (a 500). For the test suite, where every page read after a change
        # then shows that the change dropped it; never in production.
        self.ACCOUNT_CACHE_CHECK = False
        # Swagger UI's assets, served by the app itself (app/api/docs.py): no CDN needed.
        self.OPENAPI_SWAGGER_UI_URL = "/api/v1/docs/assets/"

    def validate(self):
        """Raise ConfigError when the settings are unfit for this environment."""


def _key_bytes(text) -> int | None:
    """How many bytes the base64 ``text`` holds; None when it is not base64."""
    try:
        return len(base64.b64decode(text, validate=True))
    except ValueError:
        return None


class DevelopmentConfig(Config):
    """A developer's machine: SQLite unless DATABASE_URL says otherwise, sandbox stand-ins on."""

    ENV_NAME = "development"
    SANDBOX_ENABLED = True
    default_wechat_templates = SANDBOX_WECHAT_TEMPLATES

    def generated_secrets(self):
        return _dev_secrets()

    def __init__(self):
        port = env("PORT", "5000")
        self.default_wechat_api_base = f"http://127.0.0.1:{port}/sandbox/wechat/"
        self.default_sms_api_base = f"http://127.0.0.1:{port}/sandbox/sms/"
        self.default_public_base_url = f"http://127.0.0.1:{port}"
        self.default_wechatpay_api_base = f"http://127.0.0.1:{port}/sandbox/wechatpay"
        self.default_alipay_gateway = f"http://127.0.0.1:{port}/sandbox/alipay/gateway.do"
        super().__init__()
        self.DEBUG = _env_bool("FLASK_DEBUG", False)


class TestingConfig(Config):
    """The test suite: real MariaDB and Redis, in databases kept for tests."""

    ENV_NAME = "testing"
    TESTING = True
    SANDBOX_ENABLED = True
    default_wechat_templates = SANDBOX_WECHAT_TEMPLATES
    default_database_url = "mysql+pymysql://root@127.0.0.1:3306/booking_test?charset=utf8mb4"
    default_redis_url = "redis://127.0.0.1:6379/15"
    # Tests that call the WeChat stand-in point this at their served app.
    default_wechat_api_base = "http://127.0.0.1:5000/sandbox/wechat/"
    default_sms_api_base = "http://127.0.0.1:5000/sandbox/sms/"
    # Tests that need the stand-ins or the webhooks point these at their served app.
    default_public_base_url = "http://127.0.0.1:5000"
    default_wechatpay_api_base = "http://127.0.0.1:5000/sandbox/wechatpay"
    default_alipay_gateway = "http://127.0.0.1:5000/sandbox/alipay/gateway.do"

    def generated_secrets(self):
        return _test_secrets()

    def __init__(self):
        super().__init__()
        self.SQLALCHEMY_DATABASE_URI = env("TEST_DATABASE_URL", self.default_database_url)
        self.REDIS_URL = env("TEST_REDIS_URL", self.default_redis_url)
        self.ACCOUNT_CACHE_CHECK = True


class ProductionConfig(Config):
    """A hospital's deployment: every secret real, MySQL, no sandbox."""

    ENV_NAME = "production"
    SECRET_MIN_LENGTHS: ClassVar[dict] = {
        "SECRET_KEY": 32,
        "LOOKUP_HASH_KEY": 32,
        "WECHAT_SECRET": 16,
        "SMS_SECRET_KEY": 16,
    }

    def validate(self):
        problems = []
        for name, min_length in self.SECRET_MIN_LENGTHS.items():
            value = getattr(self, name)
            if value.startswith(DEV_ONLY_PREFIX) or len(value) < min_length:
                problems.append(f"{name} must be set to a real secret of {min_length}+ characters")
        if _key_bytes(self.TICKET_SIGNING_KEY) != 32:
            problems.append("TICKET_SIGNING_KEY must be base64 of 32 random bytes")
        if len(self.WECHATPAY_APIV3_KEY) != 32:
            problems.append("WECHATPAY_APIV3_KEY must be the 32-character APIv3 key")
        if not self.WECHAT_TEMPLATES:
            problems.append("WECHAT_TEMPLATES must name the subscription-message templates")
        problems += _template_problems(self.WECHAT_TEMPLATES)
        keys = [entry.partition(":") for entry in self.FIELD_ENCRYPTION_KEYS.split(",")]
        if not self.FIELD_ENCRYPTION_KEYS or any(
            not kid or not sep or _key_bytes(key) != 32 for kid, sep, key in keys
        ):
            problems.append("FIELD_ENCRYPTION_KEYS must be kid:base64 of 32 random bytes[,kid:…]")
        if env("WECHAT_APPID") is None:
            problems.append("WECHAT_APPID must be set")
        for name in ("WECHAT_API_BASE", "SMS_API_BASE", "WECHATPAY_API_BASE", "ALIPAY_GATEWAY"):
            if "/sandbox/" in getattr(self, name) or "127.0.0.1" in getattr(self, name):
                problems.append(f"{name} must not point at the sandbox")
            elif not getattr(self, name).startswith("https://"):
                problems.append(f"{name} must be an https:// address")
        required = (
            "SMS_SECRET_ID",
            "SMS_SDK_APP_ID",
            "WECHATPAY_MCHID",
            "WECHATPAY_MERCHANT_PRIVATE_KEY",
            "WECHATPAY_MERCHANT_SERIAL_NO",
            "WECHATPAY_APIV3_KEY",
            "WECHATPAY_PUBLIC_KEY",
            "WECHATPAY_PUBLIC_KEY_ID",
            "ALIPAY_APPID",
            "ALIPAY_SELLER_ID",
            "ALIPAY_APP_PRIVATE_KEY",
            "ALIPAY_PUBLIC_KEY",
        )
        for name in required:
            if env(name) is None:
                problems.append(f"{name} must be set")
        seller = self.ALIPAY_SELLER_ID
        if not (len(seller) == 16 and seller.isdigit() and seller.startswith("2088")):
            problems.append("ALIPAY_SELLER_ID must be the merchant's PID: 2088 and 12 digits")
        if not self.PUBLIC_BASE_URL.startswith("https://"):
            problems.append(
                "PUBLIC_BASE_URL must be our public https:// address (payment notifies)"
            )
        if not self.SQLALCHEMY_DATABASE_URI.startswith("mysql"):
            problems.append("DATABASE_URL must point at MySQL")
        if env("REDIS_URL") is None:
            problems.append("REDIS_URL must be set")
        if problems:
            hint = "" if env("APP_ENV") else " (on a developer machine, set APP_ENV=development)"
            raise ConfigError("; ".join(problems) + hint)


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def load_config(name=None):
    """Build and validate the config for ``name`` (default: ``APP_ENV``, else production).

    Production is the default so that a deployment that forgets APP_ENV refuses to start
    without real secrets, instead of running with development keys and the sandbox mounted.
    """
    name = name or env("APP_ENV", "production")
    try:
        config = CONFIGS[name]()
    except KeyError:
        raise ConfigError(f"unknown APP_ENV {name!r}; choose one of {sorted(CONFIGS)}") from None
    config.validate()
    return config
