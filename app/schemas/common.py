"""Schemas shared by every area: pagination, China-time datetimes, free text from clients."""

import re
from typing import ClassVar

import marshmallow as ma
from marshmallow import validate

from app.domain.clock import to_china

MAX_PER_PAGE = 100


class ChinaDateTime(ma.fields.DateTime):
    """An aware datetime, written in ISO 8601 with the +08:00 offset."""

    def _serialize(self, value, attr, obj, **kwargs):
        return None if value is None else super()._serialize(to_china(value), attr, obj, **kwargs)


# Control characters (NUL, escapes, DEL) and halves of UTF-16 surrogate pairs, which no text a
# person types contains and which the database driver cannot store.
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
_PLAIN = r"^[^\u0000-\u001f\u007f]*$"


class Text(ma.fields.String):
    """Text a client sends: refused (422) with a control character or a lone surrogate in it."""

    default_error_messages: ClassVar[dict] = {"unsafe": "不能包含控制字符或无效字符"}

    def __init__(self, *args, metadata=None, **kwargs):
        # Said in the OpenAPI document too, so that clients know it.
        super().__init__(*args, metadata={"pattern": _PLAIN, **(metadata or {})}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        if _UNSAFE.search(text):
            raise self.make_error("unsafe")
        return text


class PageArgs(ma.Schema):
    """?page=1&per_page=20"""

    page = ma.fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = ma.fields.Integer(load_default=20, validate=validate.Range(min=1, max=MAX_PER_PAGE))


def page_schema(item_schema, name):
    """A schema for a page of ``item_schema``: items, page, per_page, total."""
    return ma.Schema.from_dict(
        {
            "items": ma.fields.List(ma.fields.Nested(item_schema), required=True),
            "page": ma.fields.Integer(required=True),
            "per_page": ma.fields.Integer(required=True),
            "total": ma.fields.Integer(required=True),
        },
        name=name,
    )
