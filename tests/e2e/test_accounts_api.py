"""Accounts over HTTP: WeChat login through the production adapter and the stand-in, phone
binding, patients CRUD with every kind of bad input, and two accounts that cannot see each other.
"""

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest

from app.domain import clock
from app.extensions import db
from app.models import Patient
from tests.e2e.clients import User, expect, hold
from tests.e2e.wechat_helpers import new_openid
from tests.factories import resident_id

# A document that tells neither sex nor birth date: both are typed.
_PASSPORT = {"id_type": "passport", "id_number": "E12345678", "sex": "female"}


class TestWeChatLogin:
    def test_first_login_creates_the_account_then_finds_it(self, http, phone):
        openid = new_openid()
        first = User(http, phone, openid).session
        assert first["created"] is True and first["token_type"] == "Bearer"
        assert first["expires_at"].endswith("+08:00")
        again = User(http, phone, openid).session
        assert again["created"] is False
        assert again["account"]["id"] == first["account"]["id"]

    def test_session_key_never_leaves_the_server(self, user):
        assert "session_key" not in str(user.session)

    def test_a_code_works_once(self, http, phone):
        code = phone.login_code(new_openid())
        expect(http.post("/api/v1/auth/wechat", json={"code": code}), 200)
        expect(http.post("/api/v1/auth/wechat", json={"code": code}), 400, "invalid_code")

    def test_an_unknown_code_is_refused(self, http):
        expect(http.post("/api/v1/auth/wechat", json={"code": "nope"}), 400, "invalid_code")

    @pytest.mark.parametrize("body", [{}, {"code": ""}, {"code": 123}, {"code": "x" * 200}])
    def test_malformed_bodies(self, http, body):
        expect(http.post("/api/v1/auth/wechat", json=body), 422, "validation_error")

    def test_not_json(self, http):
        response = http.post("/api/v1/auth/wechat", data="code=abc")
        assert response.status_code in (400, 415, 422)
        assert response.json()["code"]


class TestTokens:
    def test_me(self, user):
        me = expect(user.call("GET", "/api/v1/me"), 200)
        assert me["id"] == user.session["account"]["id"]
        assert me["has_wechat"] is True and me["has_phone"] is False

    @pytest.mark.parametrize(
        "header",
        [None, "Bearer", "Bearer garbage", "Basic abc", "Bearer eyJhbGciOiJub25lIn0.e30."],
    )
    def test_missing_or_bad_tokens(self, http, header):
        headers = {"Authorization": header} if header else {}
        expect(http.get("/api/v1/me", headers=headers), 401, "unauthorized")

    def test_a_tampered_token_is_refused(self, user):
        payload, _, signature = user.token.rpartition(".")
        forged = payload + "." + ("A" if signature[0] != "A" else "B") + signature[1:]
        response = user.http.get("/api/v1/me", headers={"Authorization": f"Bearer {forged}"})
        expect(response, 401, "unauthorized")

    def test_logout_revokes_the_token(self, user):
        expect(user.call("POST", "/api/v1/auth/logout"), 204)
        expect(user.call("GET", "/api/v1/me"), 401, "unauthorized")
        user.login()
        expect(user.call("GET", "/api/v1/me"), 200)

    def test_nickname(self, user):
        me = expect(user.call("PATCH", "/api/v1/me", json={"nickname": " 小明 "}), 200)
        assert me["nickname"] == "小明"
        expect(user.call("PATCH", "/api/v1/me", json={"nickname": ""}), 422, "validation_error")
        expect(user.call("PATCH", "/api/v1/me", json={"openid": "x"}), 422, "validation_error")


class TestPhoneBinding:
    def test_bind_the_verified_phone(self, user, phone):
        code = phone.phone_code("13800138000")
        me = expect(user.call("POST", "/api/v1/auth/phone", json={"code": code}), 200)
        assert me["phone_masked"] == "138****8000" and me["has_phone"] is True
        again = user.call("POST", "/api/v1/auth/phone", json={"code": code})
        expect(again, 400, "invalid_code")

    def test_a_phone_belongs_to_one_account(self, user, other, phone):
        number = "13900139001"
        expect(
            user.call("POST", "/api/v1/auth/phone", json={"code": phone.phone_code(number)}), 200
        )
        response = other.call("POST", "/api/v1/auth/phone", json={"code": phone.phone_code(number)})
        expect(response, 409, "phone_in_use")

    def test_needs_login(self, http, phone):
        response = http.post("/api/v1/auth/phone", json={"code": phone.phone_code("13800138001")})
        expect(response, 401, "unauthorized")


class TestPatients:
    def test_add_list_get_update_remove(self, user):
        number = resident_id(birth="19850612", male=False)
        created = expect(
            user.add_patient(name="李秀英", id_number=number, phone="13700137000"), 201
        )
        assert created["sex"] == "female" and created["birth_date"] == "1985-06-12"
        assert created["id_number_masked"] == number[:1] + "*" * 13 + number[-4:]
        assert created["phone_masked"] == "137****7000"
        assert created["relationship_name"] == "本人" and created["id_type_name"] == "居民身份证"
        assert number not in str(created) and "13700137000" not in str(created)

        listed = expect(user.call("GET", "/api/v1/patients"), 200)
        assert [p["id"] for p in listed["items"]] == [created["id"]] and listed["total"] == 1
        url = f"/api/v1/patients/{created['id']}"
        assert expect(user.call("GET", url), 200)["name"] == "李秀英"

        changed = expect(user.call("PATCH", url, json={"insured": True, "phone": None}), 200)
        assert changed["insured"] is True and changed["phone_masked"] is None

        expect(user.call("DELETE", url), 204)
        expect(user.call("GET", url), 404, "not_found")
        assert user.patient_count() == 0

    def test_a_child_with_a_passport_gives_sex_and_birth_date(self, user):
        body = {
            "name": "Emma Li",
            "id_type": "passport",
            "id_number": "E12345678",
            "relationship": "child",
            "sex": "female",
            "birth_date": "2018-05-01",
        }
        created = expect(user.call("POST", "/api/v1/patients", json=body), 201)
        assert created["age"] >= 8 and created["id_number_masked"] == "E1*****78"

    def test_a_patient_kept_with_a_birth_date_after_today_is_listed_refused_and_deleted(
        self, served, world, user
    ):
        """Stored data may hold a birth date after today, though it is refused when typed: the
        list shows no age, a hold says why it is refused, and the patient can be deleted."""
        body = _PASSPORT | {"name": "Emma Li", "relationship": "child", "birth_date": "2018-05-01"}
        patient_id = expect(user.call("POST", "/api/v1/patients", json=body), 201)["id"]
        with served.app.app_context():
            kept = db.session.get(Patient, patient_id)
            kept.birth_date = clock.business_date(clock.now()) + timedelta(days=400)
            db.session.commit()

        listed = expect(user.call("GET", "/api/v1/patients"), 200)["items"]
        assert [p["age"] for p in listed if p["id"] == patient_id] == [None]
        assert expect(user.call("GET", f"/api/v1/patients/{patient_id}"), 200)["age"] is None
        refused = expect(hold(user, world.schedule(), patient_id), 422, "not_eligible")
        assert refused["reason"] == "birth_date_invalid" and "出生日期有误" in refused["message"]
        expect(user.call("DELETE", f"/api/v1/patients/{patient_id}"), 204)

    def test_an_x_check_digit_is_accepted(self, user):
        number = next(
            resident_id(serial=n) for n in range(100) if resident_id(serial=n).endswith("X")
        )
        created = expect(user.add_patient(id_number=number.lower()), 201)
        assert created["id_number_masked"].endswith("X")

    @pytest.mark.parametrize(
        "fields, status, code, field",
        [
            ({"id_number": resident_id()[:-1] + "0"}, 422, "invalid_id_number", "id_number"),
            ({"id_number": "110101199002304512"}, 422, "invalid_id_number", "id_number"),
            ({"id_number": "11010119900307451"}, 422, "invalid_id_number", "id_number"),
            ({"sex": "female"}, 422, "invalid_id_number", "sex"),
            ({"birth_date": "1991-03-07"}, 422, "invalid_id_number", "birth_date"),
            ({"name": "张" * 21}, 422, "validation_error", "name"),
            ({"name": "小明😀"}, 422, "validation_error", "name"),
            ({"name": "张3"}, 422, "validation_error", "name"),
            ({"name": ""}, 422, "validation_error", "name"),
            ({"name": "   "}, 422, "validation_error", "name"),
            ({"id_number": ""}, 422, "validation_error", "id_number"),
            ({"relationship": "cousin"}, 422, "validation_error", "relationship"),
            ({"relationship": None}, 422, "validation_error", "relationship"),
            ({"phone": "12345"}, 422, "validation_error", "phone"),
            ({"id_type": "driving_licence"}, 422, "validation_error", "id_type"),
            ({"id_type": "passport", "id_number": "E1234567"}, 422, "validation_error", "sex"),
            (_PASSPORT | {"birth_date": "6860-02-10"}, 422, "validation_error", "birth_date"),
            (_PASSPORT | {"birth_date": "1899-12-31"}, 422, "validation_error", "birth_date"),
            ({"admin": True}, 422, "validation_error", "admin"),
        ],
    )
    def test_bad_input_is_refused_and_nothing_is_stored(self, user, fields, status, code, field):
        body = expect(user.add_patient(**fields), status, code)
        assert field in body.get("errors", {}), body
        assert user.patient_count() == 0

    def test_field_messages_are_chinese(self, user):
        body = expect(user.call("POST", "/api/v1/patients", json={"insured": "maybe"}), 422)
        assert body["errors"]["name"] == ["必填"]
        assert body["errors"]["insured"] == ["须为 true 或 false"]

    def test_the_same_person_cannot_be_added_twice(self, user):
        number = resident_id(birth="19600101")
        expect(user.add_patient(id_number=number, relationship="parent"), 201)
        expect(user.add_patient(id_number=number, relationship="other"), 409, "duplicate_patient")
        assert user.patient_count() == 1

    def test_one_self_per_account(self, user):
        expect(user.add_patient(id_number=resident_id(serial=1)), 201)
        expect(user.add_patient(id_number=resident_id(serial=2)), 409, "self_exists")
        other = expect(
            user.add_patient(id_number=resident_id(serial=3), relationship="spouse"), 201
        )
        response = user.call(
            "PATCH", f"/api/v1/patients/{other['id']}", json={"relationship": "self"}
        )
        expect(response, 409, "self_exists")

    def test_at_most_five_patients(self, user):
        for serial in range(5):
            expect(
                user.add_patient(id_number=resident_id(serial=serial), relationship="other"), 201
            )
        response = user.add_patient(id_number=resident_id(serial=9), relationship="other")
        expect(response, 409, "patient_limit")
        assert user.patient_count() == 5

    def test_a_removed_patient_can_be_added_again(self, user):
        number = resident_id(serial=7)
        created = expect(user.add_patient(id_number=number), 201)
        expect(user.call("DELETE", f"/api/v1/patients/{created['id']}"), 204)
        expect(user.add_patient(id_number=number), 201)

    def test_a_document_cannot_be_changed(self, user):
        created = expect(user.add_patient(), 201)
        response = user.call(
            "PATCH", f"/api/v1/patients/{created['id']}", json={"id_number": resident_id(serial=8)}
        )
        expect(response, 422, "validation_error")

    def test_unknown_patient(self, user):
        expect(user.call("GET", "/api/v1/patients/999999"), 404, "not_found")

    def test_bad_paging(self, user):
        expect(user.call("GET", "/api/v1/patients?per_page=0"), 422, "validation_error")


class TestIsolation:
    """Another account's patient is a 404 on every endpoint, never a 403, and stays untouched."""

    def test_every_patient_endpoint(self, user, other):
        mine = expect(user.add_patient(name="王芳", relationship="spouse"), 201)
        url = f"/api/v1/patients/{mine['id']}"
        expect(other.call("GET", url), 404, "not_found")
        expect(other.call("PATCH", url, json={"name": "黑客"}), 404, "not_found")
        expect(other.call("DELETE", url), 404, "not_found")
        assert other.patient_count() == 0
        assert expect(user.call("GET", url), 200)["name"] == "王芳"

    def test_the_same_person_may_be_on_two_accounts(self, user, other):
        number = resident_id(birth="19500505")
        expect(user.add_patient(id_number=number, relationship="parent"), 201)
        expect(other.add_patient(id_number=number, relationship="parent"), 201)

    def test_export_shows_only_my_data(self, user, other):
        number = resident_id(birth="19770707")
        expect(user.add_patient(id_number=number, phone="13600136000"), 201)
        mine = expect(user.call("GET", "/api/v1/me/export"), 200)
        assert [p["id_number"] for p in mine["patients"]] == [number]
        assert mine["patients"][0]["phone"] == "13600136000"
        assert expect(other.call("GET", "/api/v1/me/export"), 200)["patients"] == []


class TestAccountDeletion:
    def test_delete_me(self, user, http, phone):
        expect(user.add_patient(), 201)
        expect(user.call("DELETE", "/api/v1/me"), 204)
        expect(user.call("GET", "/api/v1/me"), 401, "unauthorized")
        again = User(http, phone, user.openid)
        assert again.session["created"] is True
        assert again.session["account"]["id"] != user.session["account"]["id"]
        assert again.patient_count() == 0


def test_concurrent_adds_respect_the_limit(user):
    """Ten adds at once for one account: the account-row lock lets exactly five through."""

    def add(serial):
        return user.add_patient(id_number=resident_id(serial=serial), relationship="other")

    with ThreadPoolExecutor(max_workers=10) as pool:
        statuses = sorted(response.status_code for response in pool.map(add, range(10, 20)))
    assert statuses == [201] * 5 + [409] * 5
    assert user.patient_count() == 5


def test_every_answer_carries_a_request_id_and_a_plain_one_given_is_kept(http):
    given = http.get("/livez", headers={"X-Request-Id": "phone-abc.123"})
    assert given.headers["X-Request-Id"] == "phone-abc.123"
    for odd in ("", "x" * 65, "has space", "引号"):
        made = http.get("/livez", headers={"X-Request-Id": odd.encode().decode("latin-1")})
        assert len(made.headers["X-Request-Id"]) == 32 and made.headers["X-Request-Id"] != odd
    assert http.get("/api/v1/hospitals/999999999").headers["X-Request-Id"]


def test_metrics_count_requests_by_route_and_holds_and_notifications_by_outcome(http, user):
    def scrape():
        response = http.get("/metrics")
        assert response.status_code == 200
        return response.text

    http.get("/api/v1/hospitals/999999999")
    http.get("/no/such/path/at/all")
    text = scrape()
    assert (
        'booking_http_request_duration_seconds_count{endpoint="/api/v1/hospitals/<int:hospital_id>",'
        'method="GET",status="404"}' in text
    )
    assert 'endpoint="unmatched",method="GET",status="404"' in text
    assert "/no/such/path" not in text  # one series for every unknown path
    refused = user.call(
        "POST",
        "/api/v1/orders",
        json={"schedule_id": 999999999, "patient_id": 1},
        headers={"Idempotency-Key": "metrics-probe-1"},
    )
    assert refused.status_code == 404
    assert 'booking_holds_total{outcome="not_found"}' in scrape()
    rejected = http.post("/webhooks/alipay", data={"out_trade_no": "x"})
    assert rejected.status_code == 400
    assert 'booking_payment_notifications_total{channel="alipay",outcome="rejected"}' in scrape()
    assert "booking_jobs_failed{queue=" in scrape()
