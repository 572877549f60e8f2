"""A page of a list, as every list endpoint answers it."""

from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db


@dataclass(frozen=True)
class Page:
    """Items of one page, with the page asked for and the total across pages."""

    items: list
    page: int
    per_page: int
    total: int


def paginate(statement, page: int, per_page: int) -> Page:
    """Run ``statement`` (a select of models) for one page and count the whole."""
    total = db.session.scalar(sa.select(sa.func.count()).select_from(statement.subquery()))
    items = db.session.scalars(statement.limit(per_page).offset((page - 1) * per_page)).all()
    return Page(items=list(items), page=page, per_page=per_page, total=total)
