"""A hold's deadline: before its number is let go, the channels it was being paid through are
asked, so that a payment made in time books its order even when the channel's notification was
lost; only once no payment can still book it is the hold expired and its number freed."""

import logging

from app.domain import clock
from app.integrations import channels
from app.services.booking import lifecycle
from app.services.payments import paying

log = logging.getLogger(__name__)


def expire_order(order_id, now=None) -> bool:
    """At an unpaid hold's deadline: book it if one of its payments was made in time, else
    close its payments at their channels and expire it. Whether it expired; a channel that
    cannot say raises ChannelUnavailable and the hold waits (the job is retried, and the sweep
    tries again every minute)."""
    now = now or clock.now()
    if paying.settle_before_release(order_id) is not None:
        return False  # paid in time: booked
    return lifecycle.expire_hold(order_id, now)


def sweep_expired_holds(now=None, batch=500) -> int:
    """Expire every unpaid hold whose time is up and whose timer was lost; how many expired.
    A hold whose channel cannot say now is left for the next sweep."""
    now = now or clock.now()
    expired = 0
    for order_id in lifecycle.due_for_expiry(now, batch):
        try:
            expired += expire_order(order_id, now)
        except channels.ChannelUnavailable as error:
            log.warning("hold %s not expired yet: %s", order_id, error)
    return expired
