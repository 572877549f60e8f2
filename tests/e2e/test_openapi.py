"""The OpenAPI document is valid and describes the contract; the docs page is served."""

from openapi_spec_validator import validate


def test_openapi_document_validates(http):
    response = http.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    validate(spec)
    paths = spec["paths"]
    for path in (
        "/api/v1/hospitals",
        "/api/v1/hospitals/{hospital_id}",
        "/api/v1/hospitals/{hospital_id}/departments",
        "/api/v1/departments/{department_id}/calendar",
        "/api/v1/departments/{department_id}/schedules",
        "/api/v1/doctors/{doctor_id}",
        "/api/v1/doctors/{doctor_id}/schedules",
        "/api/v1/search",
    ):
        assert "get" in paths[path], path


def test_error_envelope_is_documented(http):
    spec = http.get("/api/v1/openapi.json").json()
    error = spec["components"]["schemas"]["Error"]
    assert set(error["properties"]) >= {"code", "message", "errors"}
    responses = spec["paths"]["/api/v1/hospitals/{hospital_id}"]["get"]["responses"]
    assert "404" in responses


def test_docs_page(http):
    response = http.get("/api/v1/docs")
    assert response.status_code == 200
    assert "swagger" in response.text.lower()
