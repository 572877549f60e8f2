"""Jobs of the week's plan: schedules made from doctors' weekly templates (排班模板)."""

from app.services import schedule_templates


def generate_schedules():
    """Make the coming days' schedules of every active template that do not exist yet (within
    each hospital's booking window, plus a day); runs hourly and makes nothing twice."""
    return len(schedule_templates.generate_from_templates())
