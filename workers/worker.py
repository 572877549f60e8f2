"""The RQ worker: ``python -m workers.worker`` (with the built-in scheduler for timers)."""

from rq import Worker

from app import create_app
from app.infra.queue import get_queue


def main():
    """Run a worker with the scheduler on, inside the app context, until stopped."""
    app = create_app()
    with app.app_context():
        queue = get_queue()
        Worker([queue], connection=queue.connection).work(with_scheduler=True)


if __name__ == "__main__":
    main()
