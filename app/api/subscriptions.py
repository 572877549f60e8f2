"""Subscription-message consents (订阅消息) of the signed-in account."""

from flask.views import MethodView

from app.api.blueprint import Blueprint
from app.api.security import BEARER, current_account
from app.schemas import messages as schemas
from app.services.messages import consents

blp = Blueprint("subscriptions", __name__, description="订阅消息")


@blp.route("/subscriptions")
class Subscriptions(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, schemas.ConsentListSchema)
    def get(self):
        """Every kind of message with its template id and the messages still allowed."""
        return {"items": consents.consents(current_account().id)}

    @blp.doc(security=[BEARER])
    @blp.arguments(schemas.ConsentGrantSchema())
    @blp.response(200, schemas.ConsentListSchema)
    @blp.alt_response(422, description="validation_error (an unknown kind)")
    def post(self, data):
        """Record what the patient allowed in wx.requestSubscribeMessage: one more message of
        each kind named."""
        return {"items": consents.grant(current_account().id, data["kinds"])}
