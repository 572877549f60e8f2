"""Messages to patients (subscription messages, SMS) and how their values fit WeChat's keywords."""

import re
from datetime import date, datetime
from enum import StrEnum


class MessageKind(StrEnum):
    """What a message tells the patient; one WeChat template (and one consent) per kind."""

    BOOKING_CONFIRMED = "booking_confirmed"
    VISIT_REMINDER = "visit_reminder"
    STOP_CLINIC = "stop_clinic"
    REFUND_RESULT = "refund_result"
    QUEUE_CALLED = "queue_called"

    @property
    def label(self):
        return _KIND_LABELS[self]


_KIND_LABELS = {
    MessageKind.BOOKING_CONFIRMED: "预约成功通知",
    MessageKind.VISIT_REMINDER: "就诊提醒",
    MessageKind.STOP_CLINIC: "停诊通知",
    MessageKind.REFUND_RESULT: "退款结果通知",
    MessageKind.QUEUE_CALLED: "叫号提醒",
}


class MessageStatus(StrEnum):
    """Where a message of the outbox is: waiting, being sent, or done one way or another."""

    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    FAILED = "failed"  # refused for good (no consent, bad data) or given up after retries
    SKIPPED = "skipped"  # not sent, on purpose: no longer true, no template, no way to reach

    @property
    def label(self):
        return _STATUS_LABELS[self]


_STATUS_LABELS = {
    MessageStatus.PENDING: "待发送",
    MessageStatus.SENDING: "发送中",
    MessageStatus.SENT: "已发送",
    MessageStatus.FAILED: "发送失败",
    MessageStatus.SKIPPED: "未发送",
}


class MessageChannel(StrEnum):
    """How a message reaches the patient."""

    WECHAT = "wechat"
    SMS = "sms"


# The most characters WeChat takes per keyword type (subscribeMessage.send); a longer value is
# refused with 47003, so it is cut here, with an ellipsis where a reader would miss the rest.
_LIMITS = {
    "thing": 20,
    "character_string": 32,
    "number": 32,
    "letter": 32,
    "symbol": 5,
    "phone_number": 17,
    "car_number": 8,
    "phrase": 5,
}
_KEYWORD_RE = re.compile(r"([a-z_]+?)(\d+)")
_CJK_RE = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
_NOT_CHARACTER_STRING_RE = re.compile(r"[^\x21-\x7e]")
_NOT_DIGITS_RE = re.compile(r"[^\d.]")
_NAME_CJK_MAX, _NAME_LATIN_MAX = 10, 20


def keyword_type(keyword: str) -> str:
    """The type of a template keyword: "thing2" is a thing, "character_string4" a
    character_string."""
    match = _KEYWORD_RE.fullmatch(keyword)
    if match is None:
        raise ValueError(f"{keyword!r} is not a template keyword")
    return match.group(1)


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def fit(keyword: str, value) -> str:
    """``value`` written as WeChat accepts it for ``keyword``'s type, cut to its limit.

    Times and dates are written 2026年12月4日 08:30 / 2026年12月4日; amounts in fen become
    ¥25.00; a phrase keeps its first 5 Chinese characters; a name its first 10 Chinese
    characters (or 20 letters).
    """
    kind = keyword_type(keyword)
    if kind == "time":
        if isinstance(value, datetime):
            return f"{value.year}年{value.month}月{value.day}日 {value:%H:%M}"
        return str(value)
    if kind == "date":
        if isinstance(value, datetime | date):
            return f"{value.year}年{value.month}月{value.day}日"
        return str(value)
    if kind == "amount":
        if isinstance(value, int):
            return f"¥{value // 100}.{value % 100:02d}"
        return str(value)
    text = " ".join(str(value).split())
    if kind == "phrase":
        return "".join(_CJK_RE.findall(text))[: _LIMITS["phrase"]]
    if kind == "name":
        limit = _NAME_LATIN_MAX if text.isascii() else _NAME_CJK_MAX
        return text[:limit]
    if kind == "character_string":
        text = _NOT_CHARACTER_STRING_RE.sub("", text)
    if kind == "number":
        text = _NOT_DIGITS_RE.sub("", text)
    limit = _LIMITS.get(kind)
    return text if limit is None else _cut(text, limit) if kind == "thing" else text[:limit]


def template_data(mapping: dict[str, str], values: dict) -> dict[str, str]:
    """A template's data: each keyword of ``mapping`` (keyword → value name) filled from
    ``values`` and fitted to its type. A value name ``values`` lacks is a KeyError: the
    template was configured with a name no message of its kind gives."""
    return {keyword: fit(keyword, values[name]) for keyword, name in mapping.items()}
