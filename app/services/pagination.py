"""A page of a list, as every list endpoint answers it."""

from dataclasses import dataclass

import sqlalchemy as sa

from app.extensions import db
from app.infra.packedsql import PackedSelect


@dataclass(frozen=True)
class Page:
    """Items of one page, with the page asked for and the total across pages."""

    items: list
    page: int
    per_page: int
    total: int


def paginate(statement, page: int, per_page: int) -> Page:
    """Run ``statement`` (a select of models) for one page; the total as ``_total`` says."""
    offset = (page - 1) * per_page
    items = db.session.scalars(statement.limit(per_page).offset(offset)).all()
    count = sa.select(sa.func.count()).select_from(statement.subquery())
    total = _total(len(items), page, per_page, lambda: db.session.scalar(count))
    return Page(items=items, page=page, per_page=per_page, total=total)


def packed_page(
    rows_select: PackedSelect, count_select, params: dict, page: int, per_page: int
) -> tuple[list, int]:
    """The rows of one page of ``rows_select`` (narrow columns packed as one JSON array per row,
    limited by ``:limit`` and ``:offset``) and the total; ``count_select`` (same parameters)
    counts when ``_total`` needs it."""
    params = {**params, "limit": per_page, "offset": (page - 1) * per_page}
    rows = rows_select.rows(db.session.connection(), params)
    total = _total(len(rows), page, per_page, lambda: db.session.scalar(count_select, params))
    return rows, total


def _total(on_page: int, page: int, per_page: int, count) -> int:
    """The total across pages, from the page when it tells: a page neither full nor empty is the
    last one, and an empty first page means none. Only a full page, or one past the end, runs
    ``count()``: lists are mostly a page long (an account's orders and patients), and counting in
    the page's own query (a window count) makes MySQL build a temporary table every time."""
    seen = (page - 1) * per_page + on_page
    if 0 < on_page < per_page or (on_page == 0 and page == 1):
        return seen
    # Counted after the page was read: rows deleted meanwhile must not leave it below the page.
    return max(count(), seen) if on_page else count()
