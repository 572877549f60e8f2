"""The transaction of one use case: commit once at the end, roll back on any error."""

from contextlib import contextmanager

from sqlalchemy.exc import IntegrityError

from app.extensions import db


@contextmanager
def transaction(on_conflict=None):
    """Commit when the block ends, roll back if it raises.

    ``on_conflict(error)`` turns an IntegrityError (a unique key said no) into the error the
    caller should see; without it the IntegrityError propagates.
    """
    try:
        yield
        db.session.commit()
    except IntegrityError as error:
        db.session.rollback()
        if on_conflict is None:
            raise
        raise on_conflict(error) from None
    except BaseException:
        db.session.rollback()
        raise


def lock_one(statement):
    """The row of a locking read (SELECT … FOR UPDATE), refreshed over what the session holds,
    so that nothing is decided on a copy older than the lock."""
    return db.session.scalar(statement.with_for_update().execution_options(populate_existing=True))
