"""Column types shared by the models."""

import json
from datetime import UTC, date, datetime

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator

from app.extensions import field_cipher

# Ids: BIGINT on MySQL; SQLite only auto-increments a column declared INTEGER.
BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


class UTCDateTime(TypeDecorator):
    """An aware datetime, stored as naive UTC (MySQL DATETIME keeps no offset)."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("UTCDateTime needs an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value, dialect):
        return None if value is None else value.replace(tzinfo=UTC)


class StrEnum(TypeDecorator):
    """A StrEnum stored by its string value in a VARCHAR."""

    impl = sa.String
    cache_ok = True

    def __init__(self, enum_cls, length=24):
        super().__init__(length)
        self.enum_cls = enum_cls

    def process_bind_param(self, value, dialect):
        return None if value is None else self.enum_cls(value).value

    def process_result_value(self, value, dialect):
        return None if value is None else self.enum_cls(value)


class Sealed(TypeDecorator):
    """Text or a date encrypted at rest under the app's field keys (AES-256-GCM, bound to
    ``context``, e.g. "patient.name"): written sealed, read back in the clear by every query,
    ORM or Core. Each sealing differs, so SQL can never compare such a column: a row is found
    through a keyed hash column beside it."""

    impl = sa.String
    cache_ok = True

    def __init__(self, context, value_type=str, length=255):
        super().__init__(length)
        self.context = context
        self.value_type = value_type

    @property
    def python_type(self):
        return self.value_type

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        text = value.isoformat() if self.value_type is date else value
        return field_cipher().encrypt(text, self.context)

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        text = field_cipher().decrypt(value, self.context)
        return date.fromisoformat(text) if self.value_type is date else text


class JsonText(TypeDecorator):
    """A JSON object kept as text (compact, UTF-8 as is)."""

    impl = sa.Text
    cache_ok = True

    def process_bind_param(self, value, dialect):
        return None if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)

    def process_result_value(self, value, dialect):
        return None if value is None else json.loads(value)


def utcnow():
    """Now, aware, in UTC, in whole seconds as MySQL's DATETIME keeps it: an object answered
    right after it was written shows the times a later read of it shows."""
    return datetime.now(UTC).replace(microsecond=0)
