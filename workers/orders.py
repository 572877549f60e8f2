"""Jobs about orders: hold expiry timers, arming them, and the sweep that catches lost ones."""

from app.services import expiry
from app.services.booking import lifecycle


def expire_order(order_id):
    """At an unpaid hold's deadline (nothing if it was paid or cancelled): book it if it was
    paid in time, else close its payments at the channels and expire it."""
    return expiry.expire_order(order_id)


def arm_expiry_timers(order_ids):
    """Arm the expiry timers of a group of new holds (queued once per group, after its commit)."""
    return lifecycle.arm_expiry_timers(order_ids)


def sweep_expired_holds():
    """Expire holds whose timer was lost; runs every minute."""
    return expiry.sweep_expired_holds()


def resync_gates():
    """Bring the Redis gate counters back in line with MySQL; runs every minute."""
    return lifecycle.resync_gates()
