"""Text messages through Tencent Cloud SMS: API 3.0 ``SendSms`` (2021-01-11), signed with TC3.

Built from config: SMS_API_BASE (https://sms.tencentcloudapi.com/ in production, the
/sandbox/sms/ stand-in elsewhere, so tests run this very code), SMS_SECRET_ID, SMS_SECRET_KEY,
SMS_SDK_APP_ID, SMS_SIGN_NAME, SMS_TEMPLATE_ID and SMS_REGION. The request is signed with
``app.protocols.tc3`` rather than Tencent's SDK: the whole protocol is one signed JSON POST.

Tencent answers HTTP 200 either way: ``Response.Error`` when it refuses the request, else one
``SendStatusSet`` entry per number whose ``Code`` is "Ok" only when that number was sent to.
Failures raise the typed errors below. A login code is a credential: it is never logged, and the
phone only masked.

Usage: ``sms.send_login_code(phone, code, minutes)`` inside an app context; pass ``config=`` for
other settings.
"""

import json
import logging
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

import requests
from flask import current_app

from app.domain.identity import mask_phone
from app.protocols import tc3

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 5
SERVICE = "sms"
ACTION = "SendSms"
VERSION = "2021-01-11"
MAINLAND = "+86"


class SmsError(Exception):
    """Tencent Cloud SMS did not send: ``code`` and ``message`` as it answered (code None when
    the failure was ours or the network's), and its ``request_id`` for a support ticket."""

    def __init__(self, code, message, request_id=None):
        super().__init__(f"SMS error {code}: {message}")
        self.code = code
        self.message = message
        self.request_id = request_id


class SmsRejected(SmsError):
    """Tencent refused this number: a bad number, a per-number limit, a blacklist; permanent."""


class SmsAuthError(SmsError):
    """Tencent refused our credentials or signature (AuthFailure.*): a configuration fault."""


class SmsUnavailable(SmsError):
    """Tencent was unreachable, timed out, failed (5xx, InternalError) or did not answer JSON."""


def _error_class(code, per_number=False):
    if code.startswith("AuthFailure."):
        return SmsAuthError
    # InternalError.*: Tencent's own trouble; RequestLimitExceeded: its API rate, not the number.
    if code.split(".")[0] in ("InternalError", "RequestLimitExceeded"):
        return SmsUnavailable
    return SmsRejected if per_number else SmsError


def send_login_code(phone: str, code: str, minutes: int, config: Mapping | None = None) -> str:
    """Text the login ``code`` (valid ``minutes``) to mainland mobile ``phone`` (11 digits);
    return Tencent's SerialNo for the message."""
    config = current_app.config if config is None else config
    params = [code, str(minutes)]
    return _send(config, phone, str(config["SMS_TEMPLATE_ID"]), params)


def send_notice(phone: str, template_id: str, params, config: Mapping | None = None) -> str:
    """Text a notice of template ``template_id`` with ``params`` to mainland mobile ``phone``;
    return Tencent's SerialNo for the message."""
    config = current_app.config if config is None else config
    return _send(config, phone, str(template_id), [str(param) for param in params])


def _send(config, phone, template_id, params):
    """Send template ``template_id`` with ``params`` to ``phone``; the SerialNo, else raise."""
    number = MAINLAND + phone
    body = {
        "PhoneNumberSet": [number],
        "SmsSdkAppId": str(config["SMS_SDK_APP_ID"]),
        "SignName": config["SMS_SIGN_NAME"],
        "TemplateId": template_id,
        "TemplateParamSet": params,
    }
    try:
        answer = _call(config, body)
        status = next(
            (
                item
                for item in answer.get("SendStatusSet") or []
                if item.get("PhoneNumber") == number
            ),
            None,
        )
        if status is None:
            raise SmsUnavailable(None, "no SendStatus for the number", answer.get("RequestId"))
        if status.get("Code") != "Ok":
            error = _error_class(str(status.get("Code")), per_number=True)
            raise error(status.get("Code"), status.get("Message"), answer.get("RequestId"))
    except SmsError as exc:
        log.warning(
            "SMS to %s not sent: %s %s (RequestId %s)",
            mask_phone(phone),
            exc.code,
            exc.message,
            exc.request_id,
        )
        raise
    log.info("SMS sent to %s, SerialNo %s", mask_phone(phone), status.get("SerialNo"))
    return status.get("SerialNo")


def _call(config, body):
    """POST ``body`` as SendSms, signed; the ``Response`` object, or raise for ``Error``."""
    base = config["SMS_API_BASE"]
    host = urlsplit(base).netloc.lower()
    payload = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    timestamp = int(time.time())
    headers = {
        "Authorization": tc3.sign_tc3(
            config["SMS_SECRET_ID"],
            config["SMS_SECRET_KEY"],
            SERVICE,
            host,
            payload,
            timestamp,
        ),
        "Content-Type": tc3.JSON_CONTENT_TYPE,  # exactly as signed
        "Host": host,
        "X-TC-Action": ACTION,
        "X-TC-Version": VERSION,
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Region": config["SMS_REGION"],
    }
    try:
        response = requests.post(base, data=payload, headers=headers, timeout=TIMEOUT_SECONDS)
    except requests.RequestException as exc:
        raise SmsUnavailable(None, type(exc).__name__) from exc
    if response.status_code != 200:  # Tencent answers 200 even when it refuses
        raise SmsUnavailable(None, f"HTTP {response.status_code}")
    try:
        answer = response.json()["Response"]
    except (ValueError, KeyError, TypeError):
        raise SmsUnavailable(None, "answer is not a Tencent Cloud API response") from None
    if not isinstance(answer, dict):
        raise SmsUnavailable(None, "answer is not a Tencent Cloud API response")
    error = answer.get("Error")
    if isinstance(error, dict):
        code = str(error.get("Code"))
        raise _error_class(code)(code, error.get("Message"), answer.get("RequestId"))
    return answer
