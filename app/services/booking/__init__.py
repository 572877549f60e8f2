"""Booking: hold a numbered slot (holds), let it expire (lifecycle), move it (reschedule), show
it (queries, tickets). The rules a hold and a reschedule apply are gathered in checks; every
change of a slot's state is made in slots."""
