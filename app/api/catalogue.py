"""Catalogue endpoints: browse hospitals, departments, doctors and remaining numbers.

Every answer here is public and served through app/api/public.py: cached as its JSON document,
with an ETag and a Cache-Control. Each view says what its answer is (the service's result
dumped by the documented schema), under which scope it is cached, and for how long a client may
keep it."""

import json

from flask.views import MethodView

from app.api import public
from app.api.blueprint import Blueprint
from app.api.public import AVAILABILITY_MAX_AGE, CATALOGUE_MAX_AGE
from app.domain import clock
from app.infra import cache
from app.schemas import catalogue as schemas
from app.services import catalogue

blp = Blueprint("catalogue", __name__, description="医院、科室、医生与号源")

NOT_FOUND = {"status_code": 404, "description": "不存在（not_found）"}
INVALID = {"status_code": 422, "description": "参数有误（validation_error）"}
INVALID_WINDOW = {
    "status_code": 422,
    "description": "参数有误（validation_error）：start 早于今天（北京时间），或 days 不在 1–14",
}

# The schemas that dump each answer on a cache miss, built once.
_HOSPITAL_PAGE = schemas.HospitalPageSchema()
_HOSPITAL = schemas.HospitalDetailSchema()
_TREE = schemas.DepartmentNodeSchema(many=True)
_CALENDAR = schemas.CalendarDaySchema(many=True)
_SCHEDULES = schemas.ScheduleSchema(many=True)
_DOCTOR = schemas.DoctorSchema()
_SEARCH_RESULT = schemas.SearchResultSchema()


@blp.route("/hospitals")
class Hospitals(MethodView):
    @blp.arguments(schemas.HospitalQuery(), location="query", as_kwargs=True)
    @blp.response(200, schemas.HospitalPageSchema)
    @blp.alt_response(**INVALID)
    def get(self, **filters):
        """List hospitals, filtered by name (q), level and region."""
        field = "hospitals:" + json.dumps(filters, sort_keys=True, ensure_ascii=False)
        return _catalogue_answer(field, _HOSPITAL_PAGE, lambda: catalogue.list_hospitals(**filters))


@blp.route("/hospitals/<int:hospital_id>")
class HospitalDetail(MethodView):
    @blp.response(200, schemas.HospitalDetailSchema)
    @blp.alt_response(**NOT_FOUND)
    def get(self, hospital_id):
        """A hospital, with its booking rules."""
        return _catalogue_answer(
            f"hospital:{hospital_id}",
            _HOSPITAL,
            lambda: catalogue.get_hospital(hospital_id),
        )


@blp.route("/hospitals/<int:hospital_id>/departments")
class HospitalDepartments(MethodView):
    @blp.response(200, schemas.DepartmentNodeSchema(many=True))
    @blp.alt_response(**NOT_FOUND)
    def get(self, hospital_id):
        """The hospital's department tree with each department's eligibility rules."""
        return _catalogue_answer(
            f"tree:{hospital_id}",
            _TREE,
            lambda: catalogue.department_tree(hospital_id),
        )


@blp.route("/departments/<int:department_id>/calendar")
class DepartmentCalendar(MethodView):
    @blp.arguments(schemas.CalendarQuery(), location="query", as_kwargs=True)
    @blp.response(200, schemas.CalendarDaySchema(many=True))
    @blp.alt_response(**NOT_FOUND)
    @blp.alt_response(**INVALID_WINDOW)
    def get(self, department_id, **window):
        """Per day: available / full / not_released / stopped / none, with total and remaining."""
        now = clock.now()
        start = catalogue.check_window(window.get("start"), window["days"], now)
        return public.cached(
            cache.department(department_id),
            public.calendar_field(start, window["days"]),
            lambda now: catalogue.department_calendar(department_id, start, window["days"], now),
            _CALENDAR,
            AVAILABILITY_MAX_AGE,
            now,
        )


@blp.route("/departments/<int:department_id>/schedules")
class DepartmentSchedules(MethodView):
    @blp.arguments(schemas.ScheduleDateQuery(), location="query", as_kwargs=True)
    @blp.response(200, schemas.ScheduleSchema(many=True))
    @blp.alt_response(**NOT_FOUND)
    @blp.alt_response(**INVALID)
    def get(self, department_id, date):
        """The department's schedules on a date, each with its doctor and remaining numbers."""
        return public.cached(
            cache.department(department_id),
            f"schedules:{date}",
            lambda now: catalogue.department_schedules(department_id, date, now),
            _SCHEDULES,
            AVAILABILITY_MAX_AGE,
        )


@blp.route("/doctors/<int:doctor_id>")
class DoctorDetail(MethodView):
    @blp.response(200, schemas.DoctorSchema)
    @blp.alt_response(**NOT_FOUND)
    def get(self, doctor_id):
        """A doctor's page."""
        return _catalogue_answer(
            f"doctor:{doctor_id}", _DOCTOR, lambda: catalogue.get_doctor(doctor_id)
        )


@blp.route("/doctors/<int:doctor_id>/schedules")
class DoctorSchedules(MethodView):
    @blp.arguments(schemas.CalendarQuery(), location="query", as_kwargs=True)
    @blp.response(200, schemas.ScheduleSchema(many=True))
    @blp.alt_response(**NOT_FOUND)
    @blp.alt_response(**INVALID_WINDOW)
    def get(self, doctor_id, **window):
        """The doctor's schedules over the coming days (default 7 from today)."""
        now = clock.now()
        start = catalogue.check_window(window.get("start"), window["days"], now)
        days = window["days"]
        return public.cached(
            cache.department(catalogue.doctor_department_id(doctor_id)),
            f"doctor:{doctor_id}:{start}:{days}",
            lambda now: catalogue.doctor_schedules(doctor_id, start, days, now),
            _SCHEDULES,
            AVAILABILITY_MAX_AGE,
            now,
        )


@blp.route("/search")
class Search(MethodView):
    @blp.arguments(schemas.SearchQuery(), location="query", as_kwargs=True)
    @blp.response(200, schemas.SearchResultSchema)
    @blp.alt_response(**INVALID)
    def get(self, q):
        """Hospitals, departments (by name or symptom, e.g. 咳嗽) and doctors matching q."""
        return _catalogue_answer(f"search:{q}", _SEARCH_RESULT, lambda: catalogue.search(q))


def _catalogue_answer(field, schema, read):
    """A read of what only catalogue edits change, dumped by its schema and cached."""
    return public.cached(
        cache.CATALOGUE, field, lambda now: (read(), None), schema, CATALOGUE_MAX_AGE
    )
