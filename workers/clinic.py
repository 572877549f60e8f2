"""Jobs about clinics: finishing a stop-clinic (停诊), and the backstop that resumes one cut
short."""

from app.infra import queue
from app.services import stop_clinic


def finish_stop(schedule_id):
    """Cancel, refund and notify the orders of a stopped schedule still left."""
    result = stop_clinic.finish_stop(schedule_id)
    return {"cancelled": result.cancelled, "refunds": result.refunds, "notices": result.notices}


def resume_stops():
    """Queue the finishing of every stopped schedule that still has orders; runs every 5
    minutes."""
    schedule_ids = stop_clinic.unfinished()
    for schedule_id in schedule_ids:
        queue.enqueue_quietly(
            "workers.clinic.finish_stop", schedule_id, job_id=f"finish-stop-{schedule_id}"
        )
    return schedule_ids
