"""Orders (挂号单): hold a number, see, cancel and move it, show the e-ticket."""

from flask import request
from flask.views import MethodView

from app.api import public
from app.api.blueprint import Blueprint
from app.api.security import BEARER, current_account, signed_caller
from app.schemas import orders as schemas
from app.services import cancellation, visits
from app.services.booking import holds, queries, reschedule, tickets
from app.services.payments import paying

blp = Blueprint("orders", __name__, description="挂号")

_ORDER_QUERY = schemas.OrderQuery()


def hold_headers(created: bool) -> dict:
    """The headers of a hold's 201: a retry that found its first order says so."""
    return {} if created else {"Idempotent-Replayed": "true"}


def _orders_field(page, per_page, status=None) -> str:
    """The cache field of a page of the caller's orders."""
    return f"orders:{status.value if status else ''}:{page}:{per_page}"


@blp.route("/orders")
class Orders(MethodView):
    @blp.doc(security=[BEARER])
    @blp.arguments(schemas.IdempotencyHeader(), location="headers", as_kwargs=True)
    @blp.arguments(schemas.OrderCreateSchema())
    @blp.response(201, schemas.OrderSchema)
    @blp.alt_response(
        409,
        description="slot_sold_out / duplicate_booking / not_released / "
        "schedule_stopped / outside_booking_window / idempotency_conflict",
    )
    @blp.alt_response(422, description="not_eligible (+reason) / validation_error")
    @blp.alt_response(429, description="booking_limit")
    @blp.alt_response(403, description="account_blocked (+until)")
    def post(self, body, idempotency_key):
        """Hold a number for 15 minutes (the hospital's hold time) pending payment."""
        order, created = holds.hold_slot(
            signed_caller(),
            body["schedule_id"],
            body["patient_id"],
            idempotency_key,
            client_ip=request.remote_addr,
        )
        return order, 201, hold_headers(created)

    account_read = public.AccountRead(
        _orders_field, queries.list_orders, schemas.OrderPageSchema(), _ORDER_QUERY
    )

    @blp.doc(security=[BEARER])
    @blp.arguments(_ORDER_QUERY, location="query", as_kwargs=True)
    @blp.response(200, schemas.OrderPageSchema)
    def get(self, **query):
        """My orders, newest first."""
        return self.account_read.answer(**query)


@blp.route("/orders/<int:order_id>")
class OrderDetail(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, schemas.OrderSchema)
    @blp.alt_response(404, description="not_found (also for another account's order)")
    def get(self, order_id):
        """One of my orders."""
        return queries.get_order(current_account().id, order_id)


@blp.route("/orders/<int:order_id>/cancel")
class OrderCancel(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, schemas.OrderSchema)
    @blp.alt_response(409, description="order_not_cancellable / cancel_window_closed")
    def post(self, order_id):
        """Cancel: an unpaid hold at once; a paid order with a refund by the hospital's tiers."""
        return cancellation.cancel_order(current_account().id, order_id)


@blp.route("/orders/<int:order_id>/payments")
class OrderPayments(MethodView):
    @blp.doc(security=[BEARER])
    @blp.arguments(schemas.PaymentCreateSchema())
    @blp.response(201, schemas.PaymentStartSchema)
    @blp.alt_response(409, description="order_not_payable / wechat_login_required")
    @blp.alt_response(503, description="payment_unavailable")
    def post(self, body, order_id):
        """Pay an unpaid hold: wechat → wx.requestPayment params; alipay → a cashier URL."""
        return paying.start_payment(current_account().id, order_id, body["channel"])


@blp.route("/orders/<int:order_id>/refund-quote")
class OrderRefundQuote(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, schemas.RefundQuoteSchema)
    def get(self, order_id):
        """What cancelling now would refund, by the hospital's tiers."""
        return cancellation.refund_quote(current_account().id, order_id)


@blp.route("/orders/<int:order_id>/reschedule")
class OrderReschedule(MethodView):
    @blp.doc(security=[BEARER])
    @blp.arguments(schemas.RescheduleSchema())
    @blp.response(200, schemas.OrderSchema)
    @blp.alt_response(409, description="reschedule_limit / slot_sold_out / duplicate_booking")
    def post(self, body, order_id):
        """Move to another schedule of the same doctor and fee (at most twice)."""
        order = reschedule.reschedule_order(current_account().id, order_id, body["schedule_id"])
        return queries.get_order(current_account().id, order.id)


@blp.route("/orders/<int:order_id>/ticket")
class OrderTicket(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, schemas.TicketSchema)
    @blp.alt_response(409, description="ticket_unavailable")
    def get(self, order_id):
        """The e-ticket with its signed QR payload."""
        return tickets.ticket(current_account().id, order_id)


@blp.route("/tickets/public-key")
class TicketKey(MethodView):
    @blp.response(200, schemas.TicketKeySchema)
    def get(self):
        """The Ed25519 public key with which scanners verify e-tickets offline."""
        return tickets.ticket_public_key()


@blp.route("/orders/<int:order_id>/check-in")
class CheckIn(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, schemas.QueuePlaceSchema)
    @blp.alt_response(404, description="not_found (also for another account's order)")
    @blp.alt_response(409, description="not_visit_day / check_in_closed / order_not_checkable")
    def post(self, order_id):
        """签到: join the schedule's queue on the visit day (again: the same place)."""
        return visits.check_in(current_account().id, order_id)


@blp.route("/orders/<int:order_id>/queue")
class QueuePlace(MethodView):
    @blp.doc(security=[BEARER])
    @blp.response(200, schemas.QueuePlaceSchema)
    @blp.alt_response(404, description="not_found (also for another account's order)")
    def get(self, order_id):
        """The order's place in its queue: position and patients ahead once checked in, when
        it was called, the estimated wait."""
        return visits.queue_place(current_account().id, order_id)
