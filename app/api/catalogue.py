"""Catalogue endpoints: browse hospitals, departments, doctors and remaining numbers."""

from flask import Response
from flask.views import MethodView
from flask_smorest import Blueprint

from app.schemas import catalogue as schemas
from app.services import catalogue

blp = Blueprint("catalogue", __name__, description="医院、科室、医生与号源")

NOT_FOUND = {"status_code": 404, "description": "不存在（not_found）"}
INVALID = {"status_code": 422, "description": "参数有误（validation_error）"}


@blp.route("/hospitals")
class Hospitals(MethodView):
    @blp.arguments(schemas.HospitalQuery(), location="query", as_kwargs=True)
    @blp.response(200, schemas.HospitalPageSchema)
    @blp.alt_response(**INVALID)
    def get(self, **filters):
        """List hospitals, filtered by name (q), level and region."""
        return catalogue.list_hospitals(**filters)


@blp.route("/hospitals/<int:hospital_id>")
class HospitalDetail(MethodView):
    @blp.response(200, schemas.HospitalDetailSchema)
    @blp.alt_response(**NOT_FOUND)
    def get(self, hospital_id):
        """A hospital, with its booking rules."""
        return catalogue.get_hospital(hospital_id)


@blp.route("/hospitals/<int:hospital_id>/departments")
class HospitalDepartments(MethodView):
    @blp.response(200, schemas.DepartmentNodeSchema(many=True))
    @blp.alt_response(**NOT_FOUND)
    def get(self, hospital_id):
        """The hospital's department tree with each department's eligibility rules."""
        return catalogue.department_tree(hospital_id)


@blp.route("/departments/<int:department_id>/calendar")
class DepartmentCalendar(MethodView):
    @blp.arguments(schemas.CalendarQuery(), location="query", as_kwargs=True)
    @blp.response(200, schemas.CalendarDaySchema(many=True))
    @blp.alt_response(**NOT_FOUND)
    @blp.alt_response(**INVALID)
    def get(self, department_id, **window):
        """Per day: available / full / not_released / stopped / none, with total and remaining."""
        # Already the dumped schema (see the service): sent as it comes from the cache.
        return Response(
            catalogue.department_calendar(department_id, **window), mimetype="application/json"
        )


@blp.route("/departments/<int:department_id>/schedules")
class DepartmentSchedules(MethodView):
    @blp.arguments(schemas.ScheduleDateQuery(), location="query", as_kwargs=True)
    @blp.response(200, schemas.ScheduleSchema(many=True))
    @blp.alt_response(**NOT_FOUND)
    @blp.alt_response(**INVALID)
    def get(self, department_id, date):
        """The department's schedules on a date, each with its doctor and remaining numbers."""
        return catalogue.department_schedules(department_id, date)


@blp.route("/doctors/<int:doctor_id>")
class DoctorDetail(MethodView):
    @blp.response(200, schemas.DoctorSchema)
    @blp.alt_response(**NOT_FOUND)
    def get(self, doctor_id):
        """A doctor's page."""
        return catalogue.get_doctor(doctor_id)


@blp.route("/doctors/<int:doctor_id>/schedules")
class DoctorSchedules(MethodView):
    @blp.arguments(schemas.CalendarQuery(), location="query", as_kwargs=True)
    @blp.response(200, schemas.ScheduleSchema(many=True))
    @blp.alt_response(**NOT_FOUND)
    @blp.alt_response(**INVALID)
    def get(self, doctor_id, **window):
        """The doctor's schedules over the coming days (default 7 from today)."""
        return catalogue.doctor_schedules(doctor_id, **window)


@blp.route("/search")
class Search(MethodView):
    @blp.arguments(schemas.SearchQuery(), location="query", as_kwargs=True)
    @blp.response(200, schemas.SearchResultSchema)
    @blp.alt_response(**INVALID)
    def get(self, q):
        """Hospitals, departments (by name or symptom, e.g. 咳嗽) and doctors matching q."""
        return catalogue.search(q)
