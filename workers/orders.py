"""Jobs about orders: hold expiry timers and the sweep that catches lost ones."""

from app.services import booking


def expire_order(order_id):
    """Expire an unpaid hold at its deadline (does nothing if it was paid or cancelled)."""
    return booking.expire_hold(order_id)


def sweep_expired_holds():
    """Expire holds whose timer was lost; runs every minute."""
    return booking.sweep_expired_holds()


def resync_gates():
    """Bring the Redis gate counters back in line with MySQL; runs every minute."""
    return booking.resync_gates()
