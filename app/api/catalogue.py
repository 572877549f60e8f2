"""Catalogue endpoints: browse hospitals, departments, doctors and remaining numbers.

Every answer here is public and served through app/api/public.py: cached as its JSON document,
with an ETag and a Cache-Control. Each view declares its read (``public_read``: under which
scope and field its answer is cached, what the answer is — the service's result dumped by the
documented schema — and for how long a client may keep it); the declaration also answers it
before Flask (app/api/hot.py)."""

import json

from flask.views import MethodView

from app.api import public
from app.api.blueprint import Blueprint
from app.api.public import AVAILABILITY_MAX_AGE, CATALOGUE_MAX_AGE
from app.infra import cache
from app.schemas import catalogue as schemas
from app.services import catalogue

blp = Blueprint("catalogue", __name__, description="医院、科室、医生与号源")

NOT_FOUND = {"status_code": 404, "description": "不存在（not_found）"}
INVALID = {"status_code": 422, "description": "参数有误（validation_error）"}
INVALID_WINDOW = {
    "status_code": 422,
    "description": "参数有误（validation_error）：start 早于今天（北京时间）或晚于今天之后 366 天，"
    "或 days 不在 1–14",
}

# The schemas that load each query and dump each answer, built once.
_HOSPITAL_QUERY = schemas.HospitalQuery()
_CALENDAR_QUERY = schemas.CalendarQuery()
_DATE_QUERY = schemas.ScheduleDateQuery()
_SEARCH_QUERY = schemas.SearchQuery()
_HOSPITAL_PAGE = schemas.HospitalPageSchema()
_HOSPITAL = schemas.HospitalDetailSchema()
_TREE = schemas.DepartmentNodeSchema(many=True)
_CALENDAR = schemas.CalendarDaySchema(many=True)
_SCHEDULES = schemas.ScheduleSchema(many=True)
_DOCTOR = schemas.DoctorSchema()
_SEARCH_RESULT = schemas.SearchResultSchema()


def _catalogue_read(field_of, read, schema, query=None) -> public.Read:
    """A read of what only catalogue edits change, which invalidate it (valid until then):
    ``field_of(**arguments)`` names it, ``read(**arguments)`` is the service's answer."""
    return public.Read(
        lambda now, **arguments: (cache.CATALOGUE, field_of(**arguments)),
        lambda now, **arguments: (read(**arguments), None),
        schema,
        CATALOGUE_MAX_AGE,
        query,
    )


def _start(window, now):
    """The first day of a window query (today by default); 422 for one already gone or a length
    out of range. Checked when the read is named, so a miss's computation meets a valid one."""
    return catalogue.check_window(window.get("start"), window["days"], now)


def _window_read(key, read, schema) -> public.Read:
    """A read of availability over a window of days (the query's start and days) of one
    department or doctor, the URL's one argument: ``read(its_id, start, days, now)``."""

    def compute(now, **arguments):
        window = {name: arguments.pop(name) for name in ("start", "days") if name in arguments}
        (row_id,) = arguments.values()
        return read(row_id, _start(window, now), window["days"], now)

    return public.Read(key, compute, schema, AVAILABILITY_MAX_AGE, _CALENDAR_QUERY)


def _calendar_key(now, department_id, **window):
    field = public.calendar_field(_start(window, now), window["days"])
    return cache.department(department_id), field


def _doctor_schedules_key(now, doctor_id, **window):
    field = f"doctor:{doctor_id}:{_start(window, now)}:{window['days']}"
    return cache.department(catalogue.doctor_department_id(doctor_id)), field


@blp.route("/hospitals")
class Hospitals(MethodView):
    public_read = _catalogue_read(
        lambda **filters: "hospitals:" + json.dumps(filters, sort_keys=True, ensure_ascii=False),
        catalogue.list_hospitals,
        _HOSPITAL_PAGE,
        _HOSPITAL_QUERY,
    )

    @blp.arguments(_HOSPITAL_QUERY, location="query", as_kwargs=True)
    @blp.response(200, schemas.HospitalPageSchema)
    @blp.alt_response(**INVALID)
    def get(self, **filters):
        """List hospitals, filtered by name (q), level and region."""
        return self.public_read.answer(**filters)


@blp.route("/hospitals/<int:hospital_id>")
class HospitalDetail(MethodView):
    public_read = _catalogue_read(
        lambda hospital_id: f"hospital:{hospital_id}", catalogue.get_hospital, _HOSPITAL
    )

    @blp.response(200, schemas.HospitalDetailSchema)
    @blp.alt_response(**NOT_FOUND)
    def get(self, hospital_id):
        """A hospital, with its booking rules."""
        return self.public_read.answer(hospital_id=hospital_id)


@blp.route("/hospitals/<int:hospital_id>/departments")
class HospitalDepartments(MethodView):
    public_read = _catalogue_read(
        lambda hospital_id: f"tree:{hospital_id}", catalogue.department_tree, _TREE
    )

    @blp.response(200, schemas.DepartmentNodeSchema(many=True))
    @blp.alt_response(**NOT_FOUND)
    def get(self, hospital_id):
        """The hospital's department tree with each department's eligibility rules."""
        return self.public_read.answer(hospital_id=hospital_id)


@blp.route("/departments/<int:department_id>/calendar")
class DepartmentCalendar(MethodView):
    public_read = _window_read(_calendar_key, catalogue.department_calendar, _CALENDAR)

    @blp.arguments(_CALENDAR_QUERY, location="query", as_kwargs=True)
    @blp.response(200, schemas.CalendarDaySchema(many=True))
    @blp.alt_response(**NOT_FOUND)
    @blp.alt_response(**INVALID_WINDOW)
    def get(self, department_id, **window):
        """Per day: available / full / not_released / stopped / none, with total and remaining."""
        return self.public_read.answer(department_id=department_id, **window)


@blp.route("/departments/<int:department_id>/schedules")
class DepartmentSchedules(MethodView):
    public_read = public.Read(
        lambda now, department_id, date: (cache.department(department_id), f"schedules:{date}"),
        lambda now, department_id, date: catalogue.department_schedules(department_id, date, now),
        _SCHEDULES,
        AVAILABILITY_MAX_AGE,
        _DATE_QUERY,
    )

    @blp.arguments(_DATE_QUERY, location="query", as_kwargs=True)
    @blp.response(200, schemas.ScheduleSchema(many=True))
    @blp.alt_response(**NOT_FOUND)
    @blp.alt_response(**INVALID)
    def get(self, department_id, date):
        """The department's schedules on a date, each with its doctor and remaining numbers."""
        return self.public_read.answer(department_id=department_id, date=date)


@blp.route("/doctors/<int:doctor_id>")
class DoctorDetail(MethodView):
    public_read = _catalogue_read(
        lambda doctor_id: f"doctor:{doctor_id}", catalogue.get_doctor, _DOCTOR
    )

    @blp.response(200, schemas.DoctorSchema)
    @blp.alt_response(**NOT_FOUND)
    def get(self, doctor_id):
        """A doctor's page."""
        return self.public_read.answer(doctor_id=doctor_id)


@blp.route("/doctors/<int:doctor_id>/schedules")
class DoctorSchedules(MethodView):
    public_read = _window_read(_doctor_schedules_key, catalogue.doctor_schedules, _SCHEDULES)

    @blp.arguments(_CALENDAR_QUERY, location="query", as_kwargs=True)
    @blp.response(200, schemas.ScheduleSchema(many=True))
    @blp.alt_response(**NOT_FOUND)
    @blp.alt_response(**INVALID_WINDOW)
    def get(self, doctor_id, **window):
        """The doctor's schedules over the coming days (default 7 from today)."""
        return self.public_read.answer(doctor_id=doctor_id, **window)


@blp.route("/search")
class Search(MethodView):
    public_read = _catalogue_read(
        lambda q: f"search:{q}", catalogue.search, _SEARCH_RESULT, _SEARCH_QUERY
    )

    @blp.arguments(_SEARCH_QUERY, location="query", as_kwargs=True)
    @blp.response(200, schemas.SearchResultSchema)
    @blp.alt_response(**INVALID)
    def get(self, q):
        """Hospitals, departments (by name or symptom, e.g. 咳嗽) and doctors matching q."""
        return self.public_read.answer(q=q)
