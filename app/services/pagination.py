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
    """Run ``statement`` (a select of models) for one page, counting the whole in the same
    query (a window count); only a page past the end needs a second query to count."""
    offset = (page - 1) * per_page
    rows = db.session.execute(
        statement.add_columns(sa.func.count().over()).limit(per_page).offset(offset)
    ).all()
    if rows:
        total = rows[0][-1]
    else:
        total = db.session.scalar(sa.select(sa.func.count()).select_from(statement.subquery()))
    return Page(items=[row[0] for row in rows], page=page, per_page=per_page, total=total)


def packed_page(
    rows_select: PackedSelect, count_select, params: dict, page: int, per_page: int
) -> tuple[list, int]:
    """The rows of one page of ``rows_select`` (narrow columns packed as one JSON array per row,
    its last column a window count labelled ``total``, limited by ``:limit`` and ``:offset``)
    and the total; only a page past the end runs ``count_select`` (same parameters)."""
    params = {**params, "limit": per_page, "offset": (page - 1) * per_page}
    rows = rows_select.rows(db.session.connection(), params)
    total = rows[0].total if rows else db.session.scalar(count_select, params)
    return rows, total
