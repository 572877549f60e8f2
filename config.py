"""Configuration: the only module that reads the environment.

``load_config()`` picks a class by ``APP_ENV`` (development, testing, production) and builds it from
the environment at call time, never at import time.
"""

import os
from pathlib import Path
from typing import ClassVar

BASE_DIR = Path(__file__).resolve().parent

# Marks values fit only for a developer's machine or a test run; production refuses them.
DEV_ONLY_PREFIX = "dev-only-"


class ConfigError(RuntimeError):
    """A setting is missing or unsafe for the chosen environment."""


def env(name, default=None):
    """The environment variable ``name``, or ``default`` when unset or empty."""
    value = os.environ.get(name)
    return default if value in (None, "") else value


def _env_int(name, default):
    value = env(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a whole number, not {value!r}") from None


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
    SQLALCHEMY_ENGINE_OPTIONS: ClassVar[dict] = {"pool_pre_ping": True, "pool_recycle": 3600}

    JSON_AS_ASCII = False
    API_TITLE = "预约挂号 API"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/api/v1"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "docs"

    default_database_url = f"sqlite:///{BASE_DIR / 'instance' / 'dev.db'}"
    default_redis_url = "redis://127.0.0.1:6379/0"

    def __init__(self):
        self.SECRET_KEY = env("SECRET_KEY", DEV_ONLY_PREFIX + "secret-key-change-me")
        self.SQLALCHEMY_DATABASE_URI = env("DATABASE_URL", self.default_database_url)
        self.REDIS_URL = env("REDIS_URL", self.default_redis_url)
        # Connect/read timeout for Redis in seconds: a Redis that hangs must not hang a request.
        self.REDIS_SOCKET_TIMEOUT = float(env("REDIS_SOCKET_TIMEOUT", "0.5"))
        self.RQ_QUEUE = env("RQ_QUEUE", "default")
        # Hospital booking rules: the defaults given to new and seeded hospitals.
        self.HOLD_MINUTES = _env_int("HOLD_MINUTES", 15)
        self.BOOKING_WINDOW_DAYS = _env_int("BOOKING_WINDOW_DAYS", 7)
        self.RELEASE_TIME = env("RELEASE_TIME", "07:00")
        # How long a catalogue read (calendar, schedules) may be served from Redis, in seconds.
        self.CATALOGUE_CACHE_SECONDS = _env_int("CATALOGUE_CACHE_SECONDS", 60)
        self.OPENAPI_SWAGGER_UI_URL = env(
            "OPENAPI_SWAGGER_UI_URL", "https://cdn.jsdelivr.net/npm/swagger-ui-dist@5/"
        )

    def validate(self):
        """Raise ConfigError when the settings are unfit for this environment."""


class DevelopmentConfig(Config):
    """A developer's machine: SQLite unless DATABASE_URL says otherwise, sandbox stand-ins on."""

    ENV_NAME = "development"
    SANDBOX_ENABLED = True

    def __init__(self):
        super().__init__()
        self.DEBUG = _env_bool("FLASK_DEBUG", False)


class TestingConfig(Config):
    """The test suite: real MariaDB and Redis, in databases kept for tests."""

    ENV_NAME = "testing"
    TESTING = True
    SANDBOX_ENABLED = True
    default_database_url = "mysql+pymysql://root@127.0.0.1:3306/booking_test?charset=utf8mb4"
    default_redis_url = "redis://127.0.0.1:6379/15"

    def __init__(self):
        super().__init__()
        self.SQLALCHEMY_DATABASE_URI = env("TEST_DATABASE_URL", self.default_database_url)
        self.REDIS_URL = env("TEST_REDIS_URL", self.default_redis_url)


class ProductionConfig(Config):
    """A hospital's deployment: every secret real, MySQL, no sandbox."""

    ENV_NAME = "production"

    def validate(self):
        problems = []
        if self.SECRET_KEY.startswith(DEV_ONLY_PREFIX) or len(self.SECRET_KEY) < 32:
            problems.append("SECRET_KEY must be set to a random secret of at least 32 characters")
        if not self.SQLALCHEMY_DATABASE_URI.startswith("mysql"):
            problems.append("DATABASE_URL must point at MySQL")
        if env("REDIS_URL") is None:
            problems.append("REDIS_URL must be set")
        if problems:
            raise ConfigError("; ".join(problems))


CONFIGS = {
    "development": DevelopmentConfig,
    "testing": TestingConfig,
    "production": ProductionConfig,
}


def load_config(name=None):
    """Build and validate the config for ``name`` (default: ``APP_ENV``, else development)."""
    name = name or env("APP_ENV", "development")
    try:
        config = CONFIGS[name]()
    except KeyError:
        raise ConfigError(f"unknown APP_ENV {name!r}; choose one of {sorted(CONFIGS)}") from None
    config.validate()
    return config
