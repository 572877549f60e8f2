"""Error types and the one JSON error envelope: ``{"code", "message", "errors"?, ...}``."""

import logging
import math
import re

import marshmallow as ma
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ErrorSchema(ma.Schema):
    """The error envelope every failing call answers with."""

    code = ma.fields.String(required=True, metadata={"description": "stable machine code"})
    message = ma.fields.String(required=True, metadata={"description": "说明（中文）"})
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        metadata={"description": "field errors, only for validation failures"},
    )
    # Details some refusals add (docs/api.md names them with their refusals).
    reason = ma.fields.String(
        metadata={"description": "why: not_eligible, invalid_id_number, cancel_window_closed"}
    )
    limit = ma.fields.String(metadata={"description": "which limit: booking_limit"})
    until = ma.fields.String(
        metadata={"format": "date-time", "description": "blocked until: account_blocked"}
    )
    release_at = ma.fields.String(
        metadata={"format": "date-time", "description": "when numbers are released: not_released"}
    )
    retry_after = ma.fields.Integer(
        metadata={"description": "seconds to wait: too_many_requests (also Retry-After)"}
    )


class AppError(Exception):
    """A failure with an HTTP status, a stable code and a message a patient or staff can read."""

    status = 400
    code = "bad_request"
    message = "请求有误"

    def __init__(self, message=None, *, code=None, status=None, **extra):
        super().__init__(message or self.message)
        self.message = message or self.message
        self.code = code or self.code
        self.status = status or self.status
        self.extra = extra

    def to_dict(self):
        return {"code": self.code, "message": self.message, **self.extra}


class NotFound(AppError):
    status = 404
    code = "not_found"
    message = "未找到该资源"


class ValidationFailed(AppError):
    status = 422
    code = "validation_error"
    message = "请求参数有误"

    def __init__(self, errors, message=None):
        super().__init__(message, errors=errors)

    @classmethod
    def on(cls, field, message) -> "ValidationFailed":
        """One field's failure, its message the envelope's too."""
        return cls({field: [message]}, message=message)


class Conflict(AppError):
    status = 409
    code = "conflict"
    message = "当前状态不允许该操作"


# Messages for HTTP errors raised by Flask/Werkzeug itself (routing, method, body size, ...).
_HTTP_CODES = {
    400: ("bad_request", "请求格式有误"),
    401: ("unauthorized", "请先登录"),
    403: ("forbidden", "无权进行该操作"),
    404: ("not_found", "未找到该资源"),
    405: ("method_not_allowed", "不支持该请求方法"),
    413: ("payload_too_large", "请求内容过大"),
    415: ("unsupported_media_type", "请使用 JSON 格式提交"),
    422: ("validation_error", "请求参数有误"),
    429: ("too_many_requests", "操作过于频繁，请稍后再试"),
    500: ("internal_error", "服务器开小差了，请稍后再试"),
    503: ("service_unavailable", "服务暂不可用，请稍后再试"),
}


def _flatten_errors(messages):
    """webargs nests errors by location ({"query": {"days": [...]}}); the envelope does not."""
    flat = {}
    for location_errors in (messages or {}).values():
        if isinstance(location_errors, dict):
            for field, errs in location_errors.items():
                flat.setdefault(str(field), []).extend(_as_strings(errs))
        else:
            flat.setdefault("_schema", []).extend(_as_strings(location_errors))
    return flat


def _as_strings(errs):
    if isinstance(errs, dict):
        return [f"{key}: {msg}" for key, value in errs.items() for msg in _as_strings(value)]
    if isinstance(errs, (list, tuple)):
        return [msg for err in errs for msg in _as_strings(err)]
    return [in_chinese(str(errs))]


_BOUNDS = {
    "greater than or equal to": "不小于",
    "greater than": "大于",
    "less than or equal to": "不大于",
    "less than": "小于",
}
_BOUND = "|".join(map(re.escape, _BOUNDS))
_KINDS = {  # what a value must be; a leading space before Latin script
    "string": "字符串",
    "utf-8 string": " UTF-8 字符串",
    "number": "数字",
    "integer": "整数",
    "boolean": " true 或 false",
    "date": " YYYY-MM-DD 格式的日期",
    "datetime": " ISO 8601 格式的时间",
    "naive datetime": "不带时区的 ISO 8601 时间",
    "aware datetime": "带时区的 ISO 8601 时间",
    "time": " HH:MM 格式的时间",
    "list": "数组",
    "tuple": "数组",
    "mapping type": "对象",
    "URL": "网址",
    "email address": "邮箱地址",
    "UUID": " UUID",
}
# marshmallow's own messages (the version pinned in requirements.txt), as patients and staff
# read them; our own messages are Chinese already and pass through unchanged.
_CHINESE = [
    (r"Missing data for required field\.", lambda m: "必填"),
    (r"Field may not be null\.", lambda m: "不能为空"),
    (r"Invalid value\.", lambda m: "取值无效"),
    (r"Invalid (input )?type\.", lambda m: "类型有误"),
    (r"Unknown field\.", lambda m: "不支持该字段"),
    (r"Number too large\.", lambda m: "数值过大"),
    (
        r"Special numeric values \(nan or infinity\) are not permitted\.",
        lambda m: "不能为 NaN 或无穷大",
    ),
    (r"Not a valid (.+)\.", lambda m: f"须为{_KINDS.get(m[1], '有效的值')}"),
    (r"Must be one of: (.*)\.", lambda m: f"只能是：{m[1]}"),
    (
        rf"Must be ({_BOUND}) (.+) and ({_BOUND}) (.+)\.",
        lambda m: f"须{_BOUNDS[m[1]]} {m[2]}，且{_BOUNDS[m[3]]} {m[4]}",
    ),
    (rf"Must be ({_BOUND}) (.+)\.", lambda m: f"须{_BOUNDS[m[1]]} {m[2]}"),
    (r"Shorter than minimum length (\d+)\.", lambda m: f"长度不能少于 {m[1]}"),
    (r"Longer than maximum length (\d+)\.", lambda m: f"长度不能超过 {m[1]}"),
    (r"Length must be between (\d+) and (\d+)\.", lambda m: f"长度须为 {m[1]}–{m[2]}"),
    (r"Length must be (\d+)\.", lambda m: f"长度须为 {m[1]}"),
    (r"String does not match expected pattern\.", lambda m: "格式不正确"),
    (r'"(.*)" cannot be formatted as a (.+)\.', lambda m: f"须为{_KINDS.get(m[2], '有效的值')}"),
]
_CHINESE = [(re.compile(pattern, re.DOTALL), say) for pattern, say in _CHINESE]


def in_chinese(message: str) -> str:
    """A validation message of marshmallow's in Chinese; any other message as it is."""
    for pattern, say in _CHINESE:
        if found := pattern.fullmatch(message):
            return say(found)
    return message


def _envelope(status, body, headers=None):
    return body, status, headers or {}


def handle_app_error(error: AppError):
    headers = {}
    if (wait := error.extra.get("retry_after")) is not None:
        headers["Retry-After"] = str(math.ceil(wait))  # what a client or proxy reads
    return _envelope(error.status, error.to_dict(), headers)


def handle_http_exception(error: HTTPException):
    status = error.code or 500
    code, message = _HTTP_CODES.get(status, ("http_error", error.description or "请求失败"))
    body = {"code": code, "message": message}
    data = getattr(error, "data", None) or {}
    if "messages" in data:  # webargs validation failure
        body["errors"] = _flatten_errors(data["messages"])
    headers = dict(data.get("headers") or {})
    if status == 405 and error.valid_methods:
        headers["Allow"] = ", ".join(error.valid_methods)
    return _envelope(status, body, headers)


def handle_unexpected(error: Exception):
    log.exception("unhandled error", exc_info=error)
    code, message = _HTTP_CODES[500]
    return _envelope(500, {"code": code, "message": message})


def register_error_handlers(app):
    """Send every error through the one envelope."""
    app.register_error_handler(AppError, handle_app_error)
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
