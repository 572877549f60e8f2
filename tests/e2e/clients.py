"""HTTP clients of the e2e tier: a served app's client, a signed-in patient, the error-envelope
check, holds."""

import itertools

import requests

from tests.e2e.wechat_helpers import new_openid
from tests.factories import resident_id


class AppClient(requests.Session):
    """Requests to one served app: paths relative to its URL, ``http.get("/api/v1/hospitals")``,
    each with a 10 s timeout unless told otherwise."""

    def __init__(self, base_url):
        super().__init__()
        self.base_url = base_url

    def request(self, method, url, *args, **kwargs):
        kwargs.setdefault("timeout", 10)
        return super().request(method, self.base_url + url, *args, **kwargs)


class User:
    """A signed-in patient account, calling the API with its bearer token."""

    def __init__(self, http, phone, openid=None):
        self.http, self.phone = http, phone
        self.openid = openid or new_openid()
        self.login()

    def login(self):
        response = self.http.post(
            "/api/v1/auth/wechat", json={"code": self.phone.login_code(self.openid)}
        )
        assert response.status_code == 200, response.text
        self.session = response.json()
        self.token = self.session["token"]
        return self.session

    def call(self, method, url, **kwargs):
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.http.request(method, url, headers=headers, **kwargs)

    def add_patient(self, **fields):
        body = {"name": "张三", "id_number": resident_id(), "relationship": "self"} | fields
        return self.call("POST", "/api/v1/patients", json=body)

    def patient_count(self):
        return self.call("GET", "/api/v1/patients").json()["total"]


def expect(response, status, code=None):
    assert response.status_code == status, response.text
    if code:
        body = response.json()
        assert body["code"] == code and body["message"], body
        return body
    return response.json() if response.content else None


_keys = itertools.count(1)


def hold(user, schedule_id, patient_id, key=None):
    key = key or f"hold-key-{next(_keys):06d}"
    return user.call(
        "POST",
        "/api/v1/orders",
        json={"schedule_id": schedule_id, "patient_id": patient_id},
        headers={"Idempotency-Key": key},
    )


def patient_of(user, **fields):
    return expect(user.add_patient(**fields), 201)["id"]
