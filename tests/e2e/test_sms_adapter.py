"""The production SMS adapter against the Tencent Cloud SMS stand-in, over real HTTP."""

import json
import logging
import time
from urllib.parse import urlsplit

import pytest
import requests

from app.domain.identity import mask_phone
from app.integrations import sms
from app.integrations.sms import SmsAuthError, SmsError, SmsRejected, SmsUnavailable
from app.protocols import tc3
from tests.e2e.sms_helpers import SmsPhone, new_phone


@pytest.fixture
def ctx(served):
    with served.app.app_context():
        yield


@pytest.fixture
def phone(served):
    """Here the phone is the one receiving text messages."""
    return SmsPhone(served.url)


def config_with(served, **settings):
    """The served app's config with ``settings`` changed; the app's own config stays."""
    return {**served.app.config, **settings}


# --- Sending a login code ------------------------------------------------------------------------


def test_a_login_code_arrives_on_the_phone(ctx, served, phone):
    number = new_phone()

    serial_no = sms.send_login_code(number, "123456", 5)

    [message] = phone.messages(number)
    assert message["serial_no"] == serial_no
    assert message["phone"] == number
    assert message["text"] == "【预约挂号】您的验证码为123456，5分钟内有效，请勿泄露给他人。"
    assert message["params"] == ["123456", "5"]
    assert message["template_id"] == served.app.config["SMS_TEMPLATE_ID"]
    assert abs(message["sent_at"] - time.time()) < 60


def test_messages_are_listed_oldest_first(ctx, phone):
    number = new_phone()

    sms.send_login_code(number, "111111", 5)
    sms.send_login_code(number, "222222", 5)

    assert [m["params"][0] for m in phone.messages(number)] == ["111111", "222222"]


def test_the_code_is_never_logged(ctx, phone, caplog):
    number = new_phone()
    caplog.set_level(logging.DEBUG, logger="app")

    sms.send_login_code(number, "864209", 5)
    phone.fail_next(number, "LimitExceeded.PhoneNumberDailyLimit")
    with pytest.raises(SmsRejected):
        sms.send_login_code(number, "864210", 5)

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "86420" not in logged
    assert number not in logged
    assert mask_phone(number) in logged


# --- Refusals ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("setting", "value", "code"),
    [
        ("SMS_SECRET_KEY", "not-the-secret-key", "AuthFailure.SignatureFailure"),
        ("SMS_SECRET_ID", "AKIDnot-the-secret-id", "AuthFailure.SecretIdNotFound"),
    ],
)
def test_wrong_credentials_are_an_auth_error(ctx, served, phone, setting, value, code):
    number = new_phone()

    with pytest.raises(SmsAuthError) as refused:
        sms.send_login_code(number, "123456", 5, config=config_with(served, **{setting: value}))

    assert refused.value.code == code
    assert refused.value.request_id
    assert phone.messages(number) == []


@pytest.mark.parametrize(
    ("setting", "value", "code"),
    [
        ("SMS_SDK_APP_ID", "1400999999", "UnauthorizedOperation.SmsSdkAppIdVerifyFail"),
        ("SMS_SIGN_NAME", "别的签名", "FailedOperation.SignatureIncorrectOrUnapproved"),
        ("SMS_TEMPLATE_ID", "999999", "FailedOperation.TemplateIncorrectOrUnapproved"),
    ],
)
def test_an_unapproved_app_sign_or_template_is_refused(ctx, served, phone, setting, value, code):
    number = new_phone()

    with pytest.raises(SmsError) as refused:
        sms.send_login_code(number, "123456", 5, config=config_with(served, **{setting: value}))

    assert refused.value.code == code
    assert not isinstance(refused.value, SmsRejected | SmsAuthError | SmsUnavailable)
    assert phone.messages(number) == []


def test_a_scripted_failure_rejects_the_next_send_only(ctx, phone):
    number = new_phone()
    phone.fail_next(number, "LimitExceeded.PhoneNumberDailyLimit")

    with pytest.raises(SmsRejected) as rejected:
        sms.send_login_code(number, "123456", 5)

    assert rejected.value.code == "LimitExceeded.PhoneNumberDailyLimit"
    assert phone.messages(number) == []
    sms.send_login_code(number, "123456", 5)
    assert len(phone.messages(number)) == 1


def test_a_malformed_number_is_rejected(ctx):
    with pytest.raises(SmsRejected) as rejected:
        sms.send_login_code("1380013800", "123456", 5)  # 10 digits

    assert rejected.value.code == "InvalidParameterValue.IncorrectPhoneNumber"


def test_a_code_that_is_not_digits_is_refused(ctx):
    with pytest.raises(SmsError) as refused:
        sms.send_login_code(new_phone(), "12ab56", 5)

    assert refused.value.code == "InvalidParameterValue.TemplateParameterFormatError"


# --- Tencent unreachable -------------------------------------------------------------------------


def test_an_unreachable_provider_is_unavailable(ctx, served):
    config = config_with(served, SMS_API_BASE="http://127.0.0.1:1/")

    with pytest.raises(SmsUnavailable) as unavailable:
        sms.send_login_code(new_phone(), "123456", 5, config=config)

    assert unavailable.value.code is None


def test_an_error_page_instead_of_tencent_is_unavailable(ctx, served):
    config = config_with(served, SMS_API_BASE=served.url + "/not-sms/")

    with pytest.raises(SmsUnavailable) as unavailable:
        sms.send_login_code(new_phone(), "123456", 5, config=config)

    assert "404" in unavailable.value.message


# --- The stand-in itself, called with hand-signed requests ----------------------------------------


def send_signed(served, body, *, timestamp=None, secret_key=None, host=None, **headers):
    """POST ``body`` to the stand-in, TC3-signed as Tencent's clients sign, over HTTP."""
    config = served.app.config
    payload = json.dumps(body, ensure_ascii=False).encode()
    timestamp = int(time.time()) if timestamp is None else timestamp
    authorization = tc3.sign_tc3(
        config["SMS_SECRET_ID"],
        config["SMS_SECRET_KEY"] if secret_key is None else secret_key,
        "sms",
        host or urlsplit(served.url).netloc,
        payload,
        timestamp,
    )
    sent_headers = {
        "Authorization": authorization,
        "Content-Type": tc3.JSON_CONTENT_TYPE,
        "X-TC-Action": "SendSms",
        "X-TC-Version": "2021-01-11",
        "X-TC-Timestamp": str(timestamp),
        "X-TC-Region": "ap-guangzhou",
        **headers,
    }
    response = requests.post(
        served.url + "/sandbox/sms/", data=payload, headers=sent_headers, timeout=10
    )
    assert response.status_code == 200  # Tencent reports errors inside a 200
    return response.json()["Response"]


def send_sms_body(served, *numbers, **changes):
    config = served.app.config
    return {
        "PhoneNumberSet": [f"+86{number}" for number in numbers],
        "SmsSdkAppId": config["SMS_SDK_APP_ID"],
        "SignName": config["SMS_SIGN_NAME"],
        "TemplateId": config["SMS_TEMPLATE_ID"],
        "TemplateParamSet": ["654321", "5"],
        **changes,
    }


def error_code(answer):
    assert "SendStatusSet" not in answer
    assert answer["RequestId"]
    return answer["Error"]["Code"]


def test_the_answer_has_tencents_shape(served):
    number, other = new_phone(), new_phone()
    body = send_sms_body(served, number, other, SessionContext="login-7")

    answer = send_signed(served, body)

    assert answer["RequestId"]
    first, second = answer["SendStatusSet"]
    assert set(first) == {
        "SerialNo",
        "PhoneNumber",
        "Fee",
        "SessionContext",
        "Code",
        "Message",
        "IsoCode",
    }
    assert (first["PhoneNumber"], second["PhoneNumber"]) == (f"+86{number}", f"+86{other}")
    assert first["Code"] == "Ok"
    assert first["Message"] == "send success"
    assert first["IsoCode"] == "CN"
    assert first["Fee"] == 1
    assert first["SessionContext"] == "login-7"
    assert first["SerialNo"] != second["SerialNo"]


def test_one_bad_number_does_not_stop_the_others(served, phone):
    number = new_phone()

    answer = send_signed(served, send_sms_body(served, number, "2000000000"))

    good, bad = answer["SendStatusSet"]
    assert good["Code"] == "Ok"
    assert bad["Code"] == "InvalidParameterValue.IncorrectPhoneNumber"
    assert (bad["SerialNo"], bad["Fee"]) == ("", 0)
    assert len(phone.messages(number)) == 1


@pytest.mark.parametrize("skew", [-301, 301, -3600])
def test_a_timestamp_off_by_more_than_five_minutes_is_expired(served, phone, skew):
    number = new_phone()

    answer = send_signed(served, send_sms_body(served, number), timestamp=int(time.time()) + skew)

    assert error_code(answer) == "AuthFailure.SignatureExpire"
    assert phone.messages(number) == []


def test_a_timestamp_within_five_minutes_is_accepted(served):
    answer = send_signed(
        served, send_sms_body(served, new_phone()), timestamp=int(time.time()) - 240
    )

    assert answer["SendStatusSet"][0]["Code"] == "Ok"


def test_a_body_changed_after_signing_fails_the_signature(served):
    config = served.app.config
    number = new_phone()
    body = send_sms_body(served, number)
    payload = json.dumps(body).encode()
    timestamp = int(time.time())
    authorization = tc3.sign_tc3(
        config["SMS_SECRET_ID"],
        config["SMS_SECRET_KEY"],
        "sms",
        urlsplit(served.url).netloc,
        payload,
        timestamp,
    )
    tampered = json.dumps({**body, "TemplateParamSet": ["000000", "5"]}).encode()

    response = requests.post(
        served.url + "/sandbox/sms/",
        data=tampered,
        headers={
            "Authorization": authorization,
            "Content-Type": tc3.JSON_CONTENT_TYPE,
            "X-TC-Action": "SendSms",
            "X-TC-Version": "2021-01-11",
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": "ap-guangzhou",
        },
        timeout=10,
    )

    assert error_code(response.json()["Response"]) == "AuthFailure.SignatureFailure"


def test_a_signature_for_another_host_fails(served):
    answer = send_signed(served, send_sms_body(served, new_phone()), host="sms.tencentcloudapi.com")

    assert error_code(answer) == "AuthFailure.SignatureFailure"


@pytest.mark.parametrize(
    ("headers", "code"),
    [
        ({"X-TC-Action": "SendStatusStatistics"}, "InvalidAction"),
        ({"X-TC-Version": "2019-07-11"}, "NoSuchVersion"),
        ({"X-TC-Region": ""}, "MissingParameter"),
        ({"Authorization": "Bearer abc"}, "AuthFailure.InvalidAuthorization"),
    ],
)
def test_requests_tencent_would_refuse(served, headers, code):
    answer = send_signed(served, send_sms_body(served, new_phone()), **headers)

    assert error_code(answer) == code


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"SmsSdkAppId": 1400000000}, "InvalidParameter"),  # Tencent wants a string
        ({"PhoneNumberSet": []}, "MissingParameter"),
        ({"TemplateParamSet": ["654321"]}, "FailedOperation.TemplateIncorrectOrUnapproved"),
        ({"SignName": None}, "FailedOperation.SignatureIncorrectOrUnapproved"),
    ],
)
def test_send_parameters_tencent_would_refuse(served, changes, code):
    answer = send_signed(served, send_sms_body(served, new_phone(), **changes))

    assert error_code(answer) == code


def test_control_endpoints_validate_with_the_error_envelope(http):
    missing = http.get("/sandbox/sms/messages")
    bad_code = http.post("/sandbox/sms/fail-next", json={"phone": new_phone(), "code": "Ok"})

    for response, field in ((missing, "phone"), (bad_code, "code")):
        assert response.status_code == 422
        body = response.json()
        assert body["code"] == "validation_error"
        assert field in body["errors"]


# --- Sending a notice ----------------------------------------------------------------------------


def test_a_stop_clinic_notice_arrives_with_its_five_parameters(ctx, served, phone):
    number = new_phone()
    template_id = served.app.config["SMS_STOP_CLINIC_TEMPLATE_ID"]
    sms.send_notice(number, template_id, ["张三", "12月5日", "上午", "王建国", "临时会诊"])
    [message] = phone.messages(number)
    assert message["template_id"] == template_id
    assert message["text"].startswith(
        "【预约挂号】张三您好，您预约的12月5日上午王建国医生门诊因临时会诊停诊"
    )


@pytest.mark.parametrize(
    ("params", "code"),
    [
        (["张三", "12月5日", "上午", "王建国", "医生临时外出会诊"], "TemplateParameterLengthLimit"),
        (["张三", "12月5日", "上午", "王建国"], "TemplateIncorrectOrUnapproved"),
        (["张三", "12月5日", "上午", "王建国", ""], "TemplateParameterLengthLimit"),
    ],
)
def test_a_notice_beyond_tencents_limits_is_refused(ctx, served, params, code):
    template_id = served.app.config["SMS_STOP_CLINIC_TEMPLATE_ID"]
    with pytest.raises(SmsError) as refused:
        sms.send_notice(new_phone(), template_id, params)
    assert refused.value.code.endswith(code)
