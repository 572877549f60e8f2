"""Payments: paying for an order (paying), the channels' notifications (notifications), giving
money back (refunds). Every fen paid becomes a booking or goes back: an order is marked paid
only by a verified notification or by our own query of the channel, never by the client."""
