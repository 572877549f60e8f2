"""The Tencent Cloud SMS stand-in: API 3.0 ``SendSms`` (version 2021-01-11), signed with TC3.

``POST /sandbox/sms/`` answers as https://sms.tencentcloudapi.com/ does: it checks the
TC3-HMAC-SHA256 signature against the app's SMS_SECRET_ID and SMS_SECRET_KEY, then the SdkAppId,
signature name and template against SMS_SDK_APP_ID, SMS_SIGN_NAME and the approved templates
(SMS_TEMPLATE_ID, SMS_STOP_CLINIC_TEMPLATE_ID) with their parameters' limits, and
answers HTTP 200 with ``{"Response": {...}}``: either ``Error`` for the whole request or one
``SendStatusSet`` entry per number. Control endpoints (messages, fail-next) let a test or a demo
read the patient's phone and script a per-number failure. State lives in Redis under
``sandbox:sms:`` with a one-day TTL, so every worker process sees the same messages.
"""

import json
import re
import secrets
import time
import uuid

from flask import Blueprint, current_app, request

from app.errors import ValidationFailed
from app.extensions import redis_store
from app.protocols import tc3

bp = Blueprint("sandbox_sms", __name__)

PREFIX = "sandbox:sms:"
RECORD_SECONDS = 24 * 3600
MESSAGES_PER_PHONE = 50  # the inbox keeps the latest ones
SERVICE = "sms"
ACTION = "SendSms"
VERSION = "2021-01-11"
MAX_NUMBERS = 200
E164_MAINLAND_MOBILE = re.compile(r"\+86(1[3-9]\d{9})")
MAINLAND_MOBILE = re.compile(r"1[3-9]\d{9}")
ERROR_CODE = re.compile(r"[A-Za-z]+(\.[A-Za-z0-9]+)*")
# Tencent's limit per variable (its SMS FAQ): a verification-code template takes up to 6 digits, a
# notice template up to 6 characters (a Chinese character, letter, digit or space counts 1).
CODE_PARAM = re.compile(r"\d{0,6}")
NOTICE_PARAM = re.compile(r".{1,6}", re.DOTALL)

# The templates approved in the console (SMS_TEMPLATE_ID, SMS_STOP_CLINIC_TEMPLATE_ID); {1}, {2}
# … are the TemplateParamSet values.
LOGIN_TEMPLATE = "您的验证码为{1}，{2}分钟内有效，请勿泄露给他人。"
STOP_CLINIC_TEMPLATE = (
    "{1}您好，您预约的{2}{3}{4}医生门诊因{5}停诊，挂号费将原路全额退回，"
    "请在小程序“我的挂号”中改约其他号源。"
)
_PLACEHOLDER = re.compile(r"\{(\d+)\}")

# Whole-request errors (Response.Error), with Tencent's codes and messages.
INVALID_AUTHORIZATION = (
    "AuthFailure.InvalidAuthorization",
    "Authorization in the request header is invalid.",
)
SIGNATURE_EXPIRE = (
    "AuthFailure.SignatureExpire",
    "Signature expired. Timestamp and server time cannot differ by more than five minutes.",
)
SECRET_ID_NOT_FOUND = (
    "AuthFailure.SecretIdNotFound",
    "The SecretId is not found, please ensure that your SecretId is correct.",
)
SIGNATURE_FAILURE = (
    "AuthFailure.SignatureFailure",
    "The provided credentials could not be validated. Please check your signature is correct.",
)
MISSING_PARAMETER = ("MissingParameter", "The request is missing a required parameter `{}`.")
INVALID_PARAMETER = ("InvalidParameter", "The value type of parameter `{}` is not valid.")
INVALID_ACTION = ("InvalidAction", "The requested action does not exist.")
NO_SUCH_VERSION = ("NoSuchVersion", "The requested version does not exist.")
JSON_PARSE_FAIL = ("FailedOperation.JsonParseFail", "json parse fail")
SDK_APP_ID_VERIFY_FAIL = (
    "UnauthorizedOperation.SmsSdkAppIdVerifyFail",
    "request SmsSdk AppId verify fail",
)
SIGN_UNAPPROVED = (
    "FailedOperation.SignatureIncorrectOrUnapproved",
    "signature format is incorrect or signature is not approved",
)
TEMPLATE_UNAPPROVED = (
    "FailedOperation.TemplateIncorrectOrUnapproved",
    "template is not approved or request content does not match the approved template content",
)
TEMPLATE_PARAMETER_FORMAT = (
    "InvalidParameterValue.TemplateParameterFormatError",
    "verification code template parameter format error",
)
TEMPLATE_PARAMETER_LENGTH = (
    "InvalidParameterValue.TemplateParameterLengthLimit",
    "single variable's content length is too long",
)
PHONE_NUMBER_COUNT_LIMIT = (
    "LimitExceeded.PhoneNumberCountLimit",
    "the number of phone numbers in one request exceeds 200",
)

# Per-number statuses (SendStatusSet[].Code); other codes set through fail-next echo the code.
SENT = ("Ok", "send success")
INCORRECT_PHONE_NUMBER = ("InvalidParameterValue.IncorrectPhoneNumber", "incorrect phone number")
_STATUS_MESSAGES = {
    "LimitExceeded.PhoneNumberDailyLimit": "the number of sms messages sent from a single "
    "mobile number every day exceeds the upper limit",
    "LimitExceeded.PhoneNumberOneHourLimit": "the number of sms messages sent from a single "
    "mobile number within 1 hour exceeds the upper limit",
    "LimitExceeded.PhoneNumberThirtySecondLimit": "the number of sms messages sent from a "
    "single mobile number within 30 seconds exceeds the upper limit",
    "FailedOperation.PhoneNumberInBlacklist": "phone number in blacklist",
    INCORRECT_PHONE_NUMBER[0]: INCORRECT_PHONE_NUMBER[1],
}


class _Refused(Exception):
    """The whole request is refused with ``error``: (code, message, formatted with ``args``)."""

    def __init__(self, error, *args):
        super().__init__(error[0])
        self.code = error[0]
        self.message = error[1].format(*args)


def _key(*parts):
    return PREFIX + ":".join(str(part) for part in parts)


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def _envelope(body):
    """Tencent's answer: always HTTP 200, everything inside ``Response`` with a RequestId."""
    return {"Response": {**body, "RequestId": str(uuid.uuid4())}}


# --- The wire protocol -------------------------------------------------------------------------


@bp.post("/")
def send_sms():
    """SendSms: verify the TC3 signature, check app, sign and template, send to each number."""
    try:
        _check_headers()
        body = _send_request()
    except _Refused as refused:
        return _envelope({"Error": {"Code": refused.code, "Message": refused.message}})
    text = _render(body["SignName"], body["TemplateId"], body.get("TemplateParamSet") or [])
    context = body.get("SessionContext") or ""
    statuses = [_send_one(number, text, body, context) for number in body["PhoneNumberSet"]]
    return _envelope({"SendStatusSet": statuses})


def _check_headers():
    """Refuse the request unless TC3-signed by the app's own key and its common headers fit."""
    config = current_app.config
    try:
        authorization = tc3.parse_authorization(request.headers.get("Authorization"))
    except tc3.MalformedAuthorization:
        raise _Refused(INVALID_AUTHORIZATION) from None
    raw_timestamp = request.headers.get("X-TC-Timestamp")
    if not raw_timestamp:
        raise _Refused(MISSING_PARAMETER, "Timestamp")
    if not raw_timestamp.isdigit():
        raise _Refused(INVALID_PARAMETER, "Timestamp")
    timestamp = int(raw_timestamp)
    if abs(time.time() - timestamp) > tc3.MAX_CLOCK_SKEW_SECONDS:
        raise _Refused(SIGNATURE_EXPIRE)
    secret_id = str(config["SMS_SECRET_ID"]).encode()
    if not secrets.compare_digest(authorization.secret_id.encode(), secret_id):
        raise _Refused(SECRET_ID_NOT_FOUND)
    signed = authorization.service == SERVICE and tc3.verify_tc3(
        authorization,
        config["SMS_SECRET_KEY"],
        request.headers,
        request.get_data(cache=True),
        timestamp,
        method=request.method,
        query=request.query_string.decode(),
    )
    if not signed:
        raise _Refused(SIGNATURE_FAILURE)
    if request.headers.get("X-TC-Action") != ACTION:
        raise _Refused(INVALID_ACTION)
    if request.headers.get("X-TC-Version") != VERSION:
        raise _Refused(NO_SUCH_VERSION)
    if not request.headers.get("X-TC-Region"):
        raise _Refused(MISSING_PARAMETER, "Region")


def _send_request():
    """The SendSms parameters, checked as Tencent checks them before sending anything."""
    try:
        body = json.loads(request.get_data(cache=True))
    except (UnicodeDecodeError, ValueError):
        raise _Refused(JSON_PARSE_FAIL) from None
    if not isinstance(body, dict):
        raise _Refused(JSON_PARSE_FAIL)
    for name in ("PhoneNumberSet", "SmsSdkAppId", "TemplateId"):
        if body.get(name) in (None, "", []):
            raise _Refused(MISSING_PARAMETER, name)
    for name, kind in (
        ("PhoneNumberSet", list),
        ("TemplateParamSet", list),
        ("SmsSdkAppId", str),
        ("TemplateId", str),
        ("SignName", str),
        ("SessionContext", str),
    ):
        value = body.get(name)
        if value is None:
            continue
        items = value if kind is list and isinstance(value, list) else [value]
        if not isinstance(value, kind) or not all(isinstance(item, str) for item in items):
            raise _Refused(INVALID_PARAMETER, name)
    if len(body["PhoneNumberSet"]) > MAX_NUMBERS:
        raise _Refused(PHONE_NUMBER_COUNT_LIMIT)
    config = current_app.config
    if body["SmsSdkAppId"] != str(config["SMS_SDK_APP_ID"]):
        raise _Refused(SDK_APP_ID_VERIFY_FAIL)
    if body.get("SignName") != config["SMS_SIGN_NAME"]:  # mainland messages must carry one
        raise _Refused(SIGN_UNAPPROVED)
    params = body.get("TemplateParamSet") or []
    template = _templates(config).get(body["TemplateId"])
    if template is None or len(params) != len(set(_PLACEHOLDER.findall(template[0]))):
        raise _Refused(TEMPLATE_UNAPPROVED)
    _, param_shape, refusal = template
    if not all(param_shape.fullmatch(param) for param in params):
        raise _Refused(refusal)
    return body


def _templates(config):
    """The approved templates by id: (text, the shape of a parameter, the refusal if not)."""
    return {
        str(config["SMS_TEMPLATE_ID"]): (LOGIN_TEMPLATE, CODE_PARAM, TEMPLATE_PARAMETER_FORMAT),
        str(config["SMS_STOP_CLINIC_TEMPLATE_ID"]): (
            STOP_CLINIC_TEMPLATE,
            NOTICE_PARAM,
            TEMPLATE_PARAMETER_LENGTH,
        ),
    }


def _render(sign_name, template_id, params):
    """The text as the phone shows it: 【签名】 then the template with its parameters."""
    template = _templates(current_app.config)[template_id][0]
    text = _PLACEHOLDER.sub(lambda match: params[int(match.group(1)) - 1], template)
    return f"【{sign_name}】{text}"


def _send_one(number, text, body, context):
    """Send ``text`` to one E.164 ``number``: its SendStatus, and the message in its inbox."""
    match = E164_MAINLAND_MOBILE.fullmatch(number)
    failure = INCORRECT_PHONE_NUMBER if match is None else _take_failure(match.group(1))
    status = {
        "SerialNo": "",
        "PhoneNumber": number,
        "Fee": 0,
        "SessionContext": context,
        "Code": SENT[0],
        "Message": SENT[1],
        "IsoCode": "CN" if number.startswith("+86") else "",
    }
    if failure:
        return {**status, "Code": failure[0], "Message": failure[1]}
    phone = match.group(1)
    serial_no = f"5000:{secrets.randbelow(10**28):028d}"
    message = {
        "serial_no": serial_no,
        "phone": phone,
        "text": text,
        "sign_name": body["SignName"],
        "template_id": body["TemplateId"],
        "params": body.get("TemplateParamSet") or [],
        "sent_at": int(time.time()),
    }
    key = _key("messages", phone)
    with redis_store.client.pipeline() as pipe:
        pipe.rpush(key, json.dumps(message, ensure_ascii=False))
        pipe.ltrim(key, -MESSAGES_PER_PHONE, -1)
        pipe.expire(key, RECORD_SECONDS)
        pipe.execute()
    return {**status, "SerialNo": serial_no, "Fee": 1}


def _take_failure(phone):
    """The (code, message) scripted by fail-next for ``phone``, used once; None when none."""
    code = redis_store.client.getdel(_key("fail_next", phone))
    if code is None:
        return None
    code = _text(code)
    return code, _STATUS_MESSAGES.get(code, code)


# --- Control endpoints: the patient's phone, and scripted failures ------------------------------


def _phone(value):
    if not isinstance(value, str) or not MAINLAND_MOBILE.fullmatch(value):
        raise ValidationFailed({"phone": ["须为 11 位中国大陆手机号"]})
    return value


@bp.get("/messages")
def messages():
    """The text messages the stand-in delivered to ``phone`` (11 digits), oldest first."""
    phone = _phone(request.args.get("phone"))
    items = redis_store.client.lrange(_key("messages", phone), 0, -1)
    return {"items": [json.loads(item) for item in items]}


@bp.post("/fail-next")
def fail_next():
    """Make the next SendSms to ``phone`` fail for that number with status ``code``."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise ValidationFailed({"_schema": ["请以 JSON 对象提交"]})
    phone = _phone(body.get("phone"))
    code = body.get("code")
    if not isinstance(code, str) or not ERROR_CODE.fullmatch(code) or code == SENT[0]:
        raise ValidationFailed(
            {"code": ["须为腾讯云短信错误码，如 LimitExceeded.PhoneNumberDailyLimit"]}
        )
    redis_store.client.set(_key("fail_next", phone), code, ex=RECORD_SECONDS)
    return "", 204
