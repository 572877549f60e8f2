"""Subscription consents as the mini-program records and reads them."""

import marshmallow as ma
from marshmallow import validate

from app.domain.messages import MessageKind


class ConsentGrantSchema(ma.Schema):
    """The kinds the patient allowed in one wx.requestSubscribeMessage (each: one message)."""

    kinds = ma.fields.List(
        ma.fields.Enum(MessageKind, by_value=True),
        required=True,
        validate=validate.Length(min=1, max=len(MessageKind)),
        metadata={"description": "the kinds whose template the patient accepted"},
    )


class ConsentSchema(ma.Schema):
    """One kind of message: its template (to ask for consent) and the messages still allowed."""

    kind = ma.fields.Enum(MessageKind, by_value=True)
    name = ma.fields.String()
    template_id = ma.fields.String(
        allow_none=True, metadata={"description": "for wx.requestSubscribeMessage's tmplIds"}
    )
    remaining = ma.fields.Integer(metadata={"description": "messages of this kind still allowed"})


class ConsentListSchema(ma.Schema):
    """Every kind of message, with what the account allows."""

    items = ma.fields.List(ma.fields.Nested(ConsentSchema))
