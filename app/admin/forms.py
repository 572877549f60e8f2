"""What a staff form's fields may hold: whole numbers, numbers, yuan, dates and times as typed.
A field that holds anything else is a refusal naming it (re-rendered by the page, 422), never
a 500."""

import math
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation

from app.domain import clock
from app.errors import ValidationFailed

# Far beyond any fee or refund, and within what an INT column of fen holds.
MAX_YUAN = Decimal(1_000_000)
# Far beyond any count, age, hour or id a form asks for, and within what MySQL's BIGINT holds.
_LARGEST = 2**63 - 1


def number(text, field, message, kind=int, required=False):
    """A whole number (or, with ``kind`` float, a finite one) as typed; None when left blank
    unless ``required``."""
    text = str(text if text is not None else "").strip()
    if not text:
        if required:
            raise ValidationFailed.on(field, message)
        return None
    try:
        value = kind(text)
    except ValueError:
        raise ValidationFailed.on(field, message) from None
    if not math.isfinite(value) or abs(value) > _LARGEST:
        raise ValidationFailed.on(field, message)
    return value


def yuan_in_fen(text, field="fee"):
    """Yuan as typed ("20", "20.5", "20.50") in fen."""
    message = f"请填写金额（元），最多两位小数，不超过 {MAX_YUAN} 元"
    try:
        value = Decimal(str(text).strip())
        exact = value.is_finite() and value == value.quantize(Decimal("0.01"))
    except InvalidOperation:
        exact = False
    if not exact or not 0 <= value <= MAX_YUAN:
        raise ValidationFailed.on(field, message)
    return int(value * 100)


def value(kind, text, field):
    """A form's date, time or China-time datetime; 422 naming ``field`` when it is not one."""
    try:
        if kind is date:
            return date.fromisoformat(text)
        if kind is time:
            return time.fromisoformat(text)
        return datetime.fromisoformat(text).replace(tzinfo=clock.CHINA_TZ)
    except (TypeError, ValueError):
        raise ValidationFailed({field: ["格式不正确"]}, message=f"{field} 格式不正确") from None
