"""Jobs about messages to patients: sending one from the outbox, and the backstop."""

from app.services.messages import delivery, outbox


def send_message(message_id):
    """Send one message of the outbox by WeChat (or SMS for a stop-clinic notice without
    consent); nothing if it was sent already or is no longer true."""
    status = delivery.send_message(message_id)
    return None if status is None else str(status)


def confirm_bookings(order_ids):
    """Write the booking confirmations of orders a free clinic booked at the hold."""
    return outbox.confirm_bookings(order_ids)


def resend_stuck():
    """Queue again the messages left pending or abandoned by a worker, and write the free
    bookings' confirmations whose job was lost; runs every 2 minutes."""
    return {"resent": delivery.resend_stuck(), "confirmed": outbox.confirm_missed()}
