"""Validation messages as patients and staff read them: marshmallow's own in Chinese."""

import marshmallow as ma
import pytest
from marshmallow import validate

from app.errors import in_chinese


class _Everything(ma.Schema):
    name = ma.fields.String(required=True, validate=validate.Length(min=1, max=40))
    code = ma.fields.String(validate=validate.Length(equal=6))
    short = ma.fields.String(validate=validate.Length(max=3))
    long = ma.fields.String(validate=validate.Length(min=3))
    pattern = ma.fields.String(validate=validate.Regexp(r"\d+"))
    count = ma.fields.Integer(validate=validate.Range(min=1, max=5))
    above = ma.fields.Integer(validate=validate.Range(min=0, min_inclusive=False))
    below = ma.fields.Integer(validate=validate.Range(max=9))
    ratio = ma.fields.Float(allow_nan=False)
    on = ma.fields.Boolean()
    day = ma.fields.Date()
    moment = ma.fields.AwareDateTime()
    at = ma.fields.Time()
    kind = ma.fields.String(validate=validate.OneOf(["a", "b"]))
    items = ma.fields.List(ma.fields.Integer())
    inner = ma.fields.Dict()
    nothing = ma.fields.String(allow_none=False)


_BAD = {
    "code": "12345",
    "short": "abcd",
    "long": "ab",
    "pattern": "x",
    "count": 9,
    "above": 0,
    "below": 10,
    "ratio": "nan",
    "on": "maybe",
    "day": "2026-02-30",
    "moment": "2026-12-04T10:00:00",
    "at": "25:00",
    "kind": "c",
    "items": "1,2",
    "inner": [1],
    "nothing": None,
    "extra": 1,
}


def _refusals():
    with pytest.raises(ma.ValidationError) as refused:
        _Everything().load(_BAD)
    return {field: text for field, (text, *_) in refused.value.messages.items()}


def _messages():
    return {field: in_chinese(text) for field, text in _refusals().items()}


def test_every_message_of_marshmallows_is_put_in_chinese():
    refusals = _refusals()

    assert refusals.keys() == _BAD.keys() | {"name"}
    untranslated = {field: text for field, text in refusals.items() if in_chinese(text) == text}
    assert not untranslated, untranslated


def test_what_the_bounds_and_choices_say():
    messages = _messages()

    assert messages["name"] == "必填"
    assert messages["count"] == "须不小于 1，且不大于 5"
    assert messages["above"] == "须大于 0"
    assert messages["below"] == "须不大于 9"
    assert messages["short"] == "长度不能超过 3"
    assert messages["long"] == "长度不能少于 3"
    assert messages["code"] == "长度须为 6"
    assert messages["kind"] == "只能是：a, b"
    assert messages["day"] == "须为 YYYY-MM-DD 格式的日期"
    assert messages["extra"] == "不支持该字段"


def test_our_own_messages_pass_unchanged():
    assert in_chinese("该时段号源已约满") == "该时段号源已约满"
    assert in_chinese("Something else.") == "Something else."
