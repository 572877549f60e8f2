"""Jobs about orders: hold expiry timers and the sweep that catches lost ones."""

from app.services import booking, payments


def expire_order(order_id):
    """Expire an unpaid hold at its deadline (does nothing if it was paid or cancelled), then
    close its payments at the channels so that no late payment starts."""
    expired = booking.expire_hold(order_id)
    if expired:
        payments.close_unpaid(order_id)
    return expired


def sweep_expired_holds():
    """Expire holds whose timer was lost; runs every minute."""
    return booking.sweep_expired_holds()


def resync_gates():
    """Bring the Redis gate counters back in line with MySQL; runs every minute."""
    return booking.resync_gates()
