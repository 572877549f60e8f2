"""Jobs of the visit day: reminders before it, no-shows after it."""

from app.services import no_shows, reminders


def queue_reminders():
    """Write the visit reminders due now (the evening before, shortly before arrival) into the
    outbox; runs every 5 minutes."""
    return reminders.queue_reminders()


def mark_no_shows():
    """Mark booked orders of periods that ended (plus the grace) without a check-in as
    no-shows, blocking accounts with too many; runs every 5 minutes and catches missed ones."""
    return no_shows.mark_no_shows()
