"""Phone login over HTTP: the code goes through the production SMS adapter to the stand-in."""

import re

import pytest

from app.extensions import redis_store
from tests.e2e.sms_helpers import SmsPhone, new_phone


@pytest.fixture(scope="module")
def inbox(served):
    return SmsPhone(served.url)


@pytest.fixture(autouse=True)
def fresh_limits(served):
    """Each test starts with no rate-limit counters (they are per phone, per IP, per window)."""
    with served.app.app_context():
        client = redis_store.client
        for key in client.scan_iter("ratelimit:*"):
            client.delete(key)


def send(http, phone):
    return http.post("/api/v1/auth/sms/send", json={"phone": phone})


def texted_code(inbox, phone):
    text = inbox.messages(phone)[-1]["text"]
    return re.search(r"\d{6}", text).group()


def login(http, phone, code):
    return http.post("/api/v1/auth/sms/login", json={"phone": phone, "code": code})


def test_send_then_login_creates_the_account(http, inbox):
    phone = new_phone()
    sent = send(http, phone)
    assert sent.status_code == 200, sent.text
    assert sent.json() == {"expires_in": 300, "retry_after": 60}
    message = inbox.messages(phone)[-1]
    assert "验证码" in message["text"] and "5分钟" in message["text"]
    response = login(http, phone, texted_code(inbox, phone))
    assert response.status_code == 200, response.text
    body = response.json()
    assert (
        body["created"] is True
        and body["account"]["phone_masked"] == phone[:3] + "****" + phone[-4:]
    )
    me = http.get("/api/v1/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.json()["has_wechat"] is False


def test_a_code_works_once_and_the_next_login_finds_the_account(http, inbox, served):
    phone = new_phone()
    send(http, phone)
    code = texted_code(inbox, phone)
    first = login(http, phone, code).json()
    assert login(http, phone, code).json()["code"] == "invalid_code"
    with served.app.app_context():
        redis_store.client.delete(*redis_store.client.keys("ratelimit:sms-phone-minute:*"))
    send(http, phone)
    again = login(http, phone, texted_code(inbox, phone)).json()
    assert again["created"] is False and again["account"]["id"] == first["account"]["id"]


def test_five_wrong_tries_burn_the_code(http, inbox):
    phone = new_phone()
    send(http, phone)
    code = texted_code(inbox, phone)
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        response = login(http, phone, wrong)
        assert response.status_code == 400 and response.json()["code"] == "invalid_code"
    response = login(http, phone, code)
    assert response.status_code == 400 and response.json()["code"] == "invalid_code"


def test_one_text_a_minute_per_phone(http):
    phone = new_phone()
    assert send(http, phone).status_code == 200
    response = send(http, phone)
    assert response.status_code == 429
    body = response.json()
    assert body["code"] == "too_many_requests" and 0 < body["retry_after"] <= 60
    assert response.headers["Retry-After"] == str(body["retry_after"])  # as clients read it


def test_ten_texts_a_day_per_phone(http, served):
    phone = new_phone()
    for n in range(10):
        assert send(http, phone).status_code == 200, n
        with served.app.app_context():
            for key in redis_store.client.scan_iter("ratelimit:sms-phone-minute:*"):
                redis_store.client.delete(key)
    response = send(http, phone)
    assert response.status_code == 429 and response.json()["retry_after"] > 3600


def test_twenty_texts_an_hour_per_ip(http):
    for _ in range(20):
        assert send(http, new_phone()).status_code == 200
    response = send(http, new_phone())
    assert response.status_code == 429 and response.json()["code"] == "too_many_requests"


def test_a_rejected_number_says_so_and_leaves_no_code(http, inbox):
    phone = new_phone()
    inbox.fail_next(phone, "LimitExceeded.PhoneNumberDailyLimit")
    response = send(http, phone)
    assert response.status_code == 422 and response.json()["code"] == "sms_rejected"
    assert login(http, phone, "123456").json()["code"] == "invalid_code"


@pytest.mark.parametrize(
    "body, field",
    [
        ({"phone": "12345678901"}, "phone"),
        ({"phone": "1380013800"}, "phone"),
        ({"phone": "abc"}, "phone"),
        ({}, "phone"),
    ],
)
def test_bad_phones(http, body, field):
    response = http.post("/api/v1/auth/sms/send", json=body)
    assert response.status_code == 422
    assert field in response.json()["errors"]


@pytest.mark.parametrize("code", ["12345", "1234567", "abcdef", ""])
def test_malformed_codes(http, code):
    response = login(http, new_phone(), code)
    assert response.status_code == 422 and "code" in response.json()["errors"]


def test_the_code_is_not_kept_in_clear(http, served, inbox):
    phone = new_phone()
    send(http, phone)
    code = texted_code(inbox, phone)
    with served.app.app_context():
        client = redis_store.client
        stored = b" ".join(
            value for key in client.scan_iter("auth:sms:*") for value in client.hvals(key)
        )
        # Ours, that is: the stand-in's keys play the phone's inbox and the provider.
        keys = b" ".join(k for k in client.scan_iter("*") if not k.startswith(b"sandbox:"))
    assert code.encode() not in stored and phone.encode() not in keys
