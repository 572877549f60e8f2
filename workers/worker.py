"""The RQ worker: ``python -m workers.worker`` (with the built-in scheduler for timers)."""

from rq import Worker

from app import create_app
from app.infra.queue import get_queues


def main():
    """Run a worker on every queue with the scheduler on, inside the app context, until stopped."""
    app = create_app()
    with app.app_context():
        queues = get_queues()  # most urgent first: a worker takes them in this order
        Worker(queues, connection=queues[0].connection).work(with_scheduler=True)


if __name__ == "__main__":
    main()
