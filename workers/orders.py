"""Jobs about orders: hold expiry timers, arming them, and the sweep that catches lost ones."""

from app.services.booking import lifecycle
from app.services.payments import paying


def expire_order(order_id):
    """Expire an unpaid hold at its deadline (does nothing if it was paid or cancelled), then
    close its payments at the channels so that no late payment starts."""
    expired = lifecycle.expire_hold(order_id)
    if expired:
        paying.close_unpaid(order_id)
    return expired


def arm_expiry_timers(order_ids):
    """Arm the expiry timers of a group of new holds (queued once per group, after its commit)."""
    return lifecycle.arm_expiry_timers(order_ids)


def sweep_expired_holds():
    """Expire holds whose timer was lost; runs every minute."""
    return lifecycle.sweep_expired_holds()


def resync_gates():
    """Bring the Redis gate counters back in line with MySQL; runs every minute."""
    return lifecycle.resync_gates()
