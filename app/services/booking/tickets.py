"""E-tickets: the signed QR payload of an active order and the key that verifies it."""

from app.domain.orders import ACTIVE_STATUSES
from app.errors import Conflict
from app.extensions import per_app
from app.infra.crypto import TicketSigner
from app.services.booking import queries


def _signer() -> TicketSigner:
    return per_app("ticket_signer", lambda config: TicketSigner(config["TICKET_SIGNING_KEY"]))


def ticket_public_key() -> dict:
    """The key scanners verify e-tickets with."""
    return {"algorithm": "Ed25519", "public_key": _signer().public_key}


def ticket(account_id, order_id) -> dict:
    """The e-ticket of an active order: number, suggested time, place, signed QR payload."""
    order = queries.get_order(account_id, order_id)
    if order.status not in ACTIVE_STATUSES:
        raise Conflict("该挂号单已失效，没有电子凭证", code="ticket_unavailable")
    payload = {
        "o": order.id,
        "s": order.schedule_id,
        "q": order.seq,
        "d": order.visit_date.isoformat(),
        "p": order.patient_id,
        "h": order.hospital_id,
    }
    return {"order": order, "qr_payload": _signer().sign(payload)}
