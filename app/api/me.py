"""The caller's own account: profile, data export, deletion."""

from flask.views import MethodView

from app.api import public
from app.api.blueprint import Blueprint
from app.api.security import BEARER, current_account
from app.schemas import accounts as schemas
from app.services import accounts

blp = Blueprint("me", __name__, description="我的账号")


@blp.route("/me")
class Me(MethodView):
    account_read = public.AccountRead(lambda: "me", accounts.get_account, schemas.AccountSchema())

    @blp.doc(security=[BEARER])
    @blp.response(200, schemas.AccountSchema)
    @blp.alt_response(401, description="unauthorized")
    def get(self):
        """The signed-in account."""
        return self.account_read.answer()

    @blp.doc(security=[BEARER])
    @blp.arguments(schemas.AccountUpdateSchema())
    @blp.response(200, schemas.AccountSchema)
    def patch(self, changes):
        """Change the nickname."""
        return accounts.update_account(current_account().id, changes)

    @blp.doc(security=[BEARER])
    @blp.response(204)
    def delete(self):
        """Close the account: tokens revoked, patients anonymised, orders kept for accounting."""
        accounts.delete_account(current_account().id)


@blp.route("/me/export")
class Export(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, schemas.ExportSchema)
    def get(self):
        """Everything kept about the account holder and their patients, unmasked."""
        return accounts.export_account(current_account().id)
