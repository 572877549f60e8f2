"""What the app refuses before it does any work, and what it lets no cache keep."""

from tests.e2e.clients import hold, patient_of

DEEP = b"[" * 1024


def test_json_nested_too_deep_is_a_400_envelope_on_the_hold_and_anywhere_else(http, user):
    signed = {"Authorization": f"Bearer {user.token}"}
    for path, headers in (
        ("/api/v1/orders", {**signed, "Idempotency-Key": "deep-nesting-1"}),
        ("/api/v1/auth/wechat", {}),  # unauthenticated
        ("/api/v1/patients", signed),
    ):
        response = http.post(
            path, data=DEEP, headers={**headers, "Content-Type": "application/json"}
        )
        assert response.status_code == 400, (path, response.text)
        assert response.headers["Content-Type"].startswith("application/json")
        assert response.json()["code"] == "bad_request"


def test_a_body_over_64_kib_is_refused_with_413_before_it_is_read(http):
    big = b'{"code": "' + b"x" * (64 * 1024) + b'"}'
    for path in ("/api/v1/auth/wechat", "/webhooks/wechatpay", "/webhooks/alipay"):
        response = http.post(path, data=big, headers={"Content-Type": "application/json"})
        assert response.status_code == 413, path
        assert response.json() == {"code": "payload_too_large", "message": "请求内容过大"}


def test_account_answers_and_errors_are_no_store_and_catalogue_answers_public(http, user, world):
    for response in (
        user.call("GET", "/api/v1/me"),
        user.call("GET", "/api/v1/me/export"),
        user.call("GET", "/api/v1/orders"),
        http.get("/api/v1/orders"),  # 401
        hold(user, world.schedule(capacity=2), patient_of(user)),  # answered before Flask
    ):
        assert response.status_code in (200, 201, 401), response.text
        assert response.headers["Cache-Control"] == "no-store", response.url
    assert http.get("/api/v1/hospitals").headers["Cache-Control"] == "public, max-age=60"


def test_json_nested_too_deep_read_by_flask_itself_is_bad_json_too(http):
    """The stand-ins read bodies with Flask's get_json: a deep document is refused as bad JSON."""
    response = http.post(
        "/sandbox/wechat/login-code", data=DEEP, headers={"Content-Type": "application/json"}
    )
    assert 400 <= response.status_code < 500


def test_control_characters_and_lone_surrogates_in_free_text_are_refused_with_422(http, user):
    for text in ("\ud800", "a\x00b", "退格\x08", "\x1b[31m"):
        for response in (
            user.call("PATCH", "/api/v1/me", json={"nickname": text}),
            user.call(
                "POST",
                "/api/v1/patients",
                json={"name": text, "id_number": "110101199003074518", "relationship": "self"},
            ),
            http.post("/api/v1/auth/sms/send", json={"phone": text}),
            # A URL carries UTF-8: control characters only.
            *([] if "\ud800" in text else [http.get("/api/v1/search", params={"q": text})]),
        ):
            assert response.status_code == 422, (text, response.request.url, response.text)
            assert response.json()["code"] == "validation_error"
    assert user.call("PATCH", "/api/v1/me", json={"nickname": "小明 😀"}).status_code == 200


def test_a_request_without_the_json_body_its_operation_takes_is_refused(http, user):
    """Every request body of the API is required, as the OpenAPI document says: none at all is
    422 (PATCH /me without one is not a change of nothing), one of another media type 415."""
    for method, path in (("PATCH", "/api/v1/me"), ("POST", "/api/v1/patients")):
        response = user.call(method, path)
        assert response.status_code == 422, (path, response.text)
        assert response.json()["code"] == "validation_error"
        assert response.json()["errors"] == {"_schema": ["请求体须为 JSON 对象"]}
        form = user.call(method, path, data={"nickname": "小明"})
        assert form.status_code == 415, (path, form.text)
        assert form.json()["code"] == "unsupported_media_type"
    assert http.post("/api/v1/auth/wechat").status_code == 422
    assert user.call("PATCH", "/api/v1/me", json={}).status_code == 200  # an empty change
