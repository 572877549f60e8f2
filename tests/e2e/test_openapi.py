"""The OpenAPI document is valid and describes the contract; the docs page is served."""

import re

from openapi_spec_validator import validate

# Every operation of the patient API in the HTTP contract (docs/api.md) that the app serves.
CONTRACT = {
    "/api/v1/hospitals": {"get"},
    "/api/v1/hospitals/{hospital_id}": {"get"},
    "/api/v1/hospitals/{hospital_id}/departments": {"get"},
    "/api/v1/departments/{department_id}/calendar": {"get"},
    "/api/v1/departments/{department_id}/schedules": {"get"},
    "/api/v1/doctors/{doctor_id}": {"get"},
    "/api/v1/doctors/{doctor_id}/schedules": {"get"},
    "/api/v1/search": {"get"},
    "/api/v1/auth/wechat": {"post"},
    "/api/v1/auth/phone": {"post"},
    "/api/v1/auth/logout": {"post"},
    "/api/v1/auth/sms/send": {"post"},
    "/api/v1/auth/sms/login": {"post"},
    "/api/v1/me": {"get", "patch", "delete"},
    "/api/v1/me/export": {"get"},
    "/api/v1/patients": {"get", "post"},
    "/api/v1/patients/{patient_id}": {"get", "patch", "delete"},
    "/api/v1/orders": {"get", "post"},
    "/api/v1/orders/{order_id}": {"get"},
    "/api/v1/orders/{order_id}/payments": {"post"},
    "/api/v1/orders/{order_id}/refund-quote": {"get"},
    "/api/v1/orders/{order_id}/cancel": {"post"},
    "/api/v1/orders/{order_id}/reschedule": {"post"},
    "/api/v1/orders/{order_id}/ticket": {"get"},
    "/api/v1/tickets/public-key": {"get"},
    "/api/v1/subscriptions": {"get", "post"},
    "/api/v1/orders/{order_id}/check-in": {"post"},
    "/api/v1/orders/{order_id}/queue": {"get"},
}
METHODS = {"get", "post", "put", "patch", "delete"}


def test_openapi_document_validates_and_describes_every_operation_of_the_contract(http):
    response = http.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    served = {path: set(item) & METHODS for path, item in spec["paths"].items()}
    assert served == CONTRACT
    for path, methods in CONTRACT.items():
        for method in methods:
            operation = spec["paths"][path][method]
            assert operation.get("summary") or operation.get("description"), (method, path)
            assert any(code.startswith("2") for code in operation["responses"]), (method, path)


def test_patient_operations_declare_the_bearer_token(http):
    spec = http.get("/api/v1/openapi.json").json()
    for path in ("/api/v1/me", "/api/v1/patients", "/api/v1/orders"):
        assert spec["paths"][path]["get"]["security"] == [{"bearerAuth": []}], path


def test_error_envelope_is_documented(http):
    spec = http.get("/api/v1/openapi.json").json()
    error = spec["components"]["schemas"]["Error"]
    assert set(error["properties"]) >= {"code", "message", "errors"}
    responses = spec["paths"]["/api/v1/hospitals/{hospital_id}"]["get"]["responses"]
    assert "404" in responses


def test_every_error_answer_is_documented_with_the_envelope(http):
    spec = http.get("/api/v1/openapi.json").json()
    error = {"$ref": "#/components/schemas/Error"}
    for path, item in spec["paths"].items():
        for method in set(item) & METHODS:
            for status, response in item[method]["responses"].items():
                if status.startswith(("4", "5")) and "$ref" not in response:
                    assert response["content"]["application/json"]["schema"] == error, (
                        method,
                        path,
                        status,
                    )
    details = spec["components"]["schemas"]["Error"]["properties"]
    assert set(details) >= {"reason", "limit", "until", "release_at", "retry_after"}


def test_the_limits_the_code_enforces_are_in_the_document(http):
    """Formats a client must know before it sends (the rules in app/domain/identity.py)."""
    schemas = http.get("/api/v1/openapi.json").json()["components"]["schemas"]
    patient = schemas["PatientInput"]["properties"]
    assert (patient["name"]["minLength"], patient["name"]["maxLength"]) == (2, 20)
    assert re.fullmatch(patient["name"]["pattern"], "阿依古丽·买买提")
    assert re.fullmatch(patient["name"]["pattern"], "José García")
    assert not re.fullmatch(patient["name"]["pattern"], "·张三")
    assert not re.fullmatch(patient["name"]["pattern"], "张3")
    assert re.fullmatch(patient["id_number"]["pattern"], "11010519491231002X")
    assert not re.fullmatch(patient["id_number"]["pattern"], "1101")
    assert re.fullmatch(patient["phone"]["pattern"], "")
    assert re.fullmatch(patient["phone"]["pattern"], "+86 138-0013-8000")
    assert schemas["PatientUpdate"]["properties"]["name"] == patient["name"]
    assert schemas["SmsLogin"]["properties"]["code"]["pattern"] == "^[0-9]{6}$"
    for name in ("WeChatLogin", "PhoneCode"):
        code = schemas[name]["properties"]["code"]
        assert (code["minLength"], code["maxLength"]) == (1, 128)


def test_docs_page_loads_its_assets_from_the_app_itself(http):
    response = http.get("/api/v1/docs")
    assert response.status_code == 200
    assets = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', response.text)
    assert sorted(assets) == [
        "/api/v1/docs/assets/swagger-ui-bundle.js",
        "/api/v1/docs/assets/swagger-ui-standalone-preset.js",
        "/api/v1/docs/assets/swagger-ui.css",
    ]
    for asset in assets:
        served = http.get(asset)
        assert served.status_code == 200, asset
        assert len(served.content) > 1000, asset
