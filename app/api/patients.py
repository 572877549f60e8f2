"""Family members (就诊人) of the signed-in account."""

from flask.views import MethodView

from app.api import public
from app.api.blueprint import Blueprint
from app.api.security import BEARER, current_account
from app.domain import clock
from app.schemas import accounts as schemas
from app.schemas.common import PageArgs
from app.services import patients

blp = Blueprint("patients", __name__, description="就诊人")

_PAGE_ARGS = PageArgs()


@blp.route("/patients")
class Patients(MethodView):
    # A patient's age changes at midnight.
    account_read = public.AccountRead(
        lambda page, per_page: f"patients:{page}:{per_page}",
        patients.list_patients,
        schemas.PatientPageSchema(),
        _PAGE_ARGS,
        lambda now: clock.day_end(clock.business_date(now)),
    )

    @blp.doc(security=[BEARER])
    @blp.arguments(_PAGE_ARGS, location="query", as_kwargs=True)
    @blp.response(200, schemas.PatientPageSchema)
    def get(self, **page):
        """The account's patients."""
        return self.account_read.answer(**page)

    @blp.doc(security=[BEARER])
    @blp.arguments(schemas.PatientInputSchema())
    @blp.response(201, schemas.PatientSchema)
    @blp.alt_response(422, description="invalid_id_number / validation_error")
    @blp.alt_response(409, description="patient_limit / duplicate_patient / self_exists")
    def post(self, data):
        """Add a patient; a 居民身份证 number gives (and checks) sex and birth date."""
        return patients.add_patient(current_account().id, data)


@blp.route("/patients/<int:patient_id>")
class PatientDetail(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, schemas.PatientSchema)
    @blp.alt_response(404, description="not_found (also for another account's patient)")
    def get(self, patient_id):
        """One patient of the account."""
        return patients.get_patient(current_account().id, patient_id)

    @blp.doc(security=[BEARER])
    @blp.arguments(schemas.PatientUpdateSchema())
    @blp.response(200, schemas.PatientSchema)
    def patch(self, changes, patient_id):
        """Change name, phone, relationship, insurance or medical card number."""
        return patients.update_patient(current_account().id, patient_id, changes)

    @blp.doc(security=[BEARER])
    @blp.response(204)
    def delete(self, patient_id):
        """Remove the patient from the account."""
        patients.remove_patient(current_account().id, patient_id)
