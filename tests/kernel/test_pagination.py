"""Cursor pagination: every row exactly once, in order, even with tied sort keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, Uuid, insert, select
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from kernel import PageParams, ProblemError, UTCDateTime, paginate
from kernel._db import Database, make_engine
from kernel._pagination import encode_cursor


class _Base(DeclarativeBase):
    metadata = MetaData()  # not the shared metadata: this table exists only in this test


class Item(_Base):
    __tablename__ = "pagination_items"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    name: Mapped[str] = mapped_column(String(20))


other = Table("pagination_other", MetaData(), Column("n", Integer, primary_key=True))


@pytest.fixture
async def database(kraliki_database):
    owner = make_engine(kraliki_database.owner_url, schema=kraliki_database.schema)
    async with owner.begin() as connection:
        await connection.run_sync(_Base.metadata.create_all)
        start = datetime(2026, 1, 1, tzinfo=UTC)
        await connection.execute(
            insert(Item),
            [
                {
                    "id": uuid.UUID(int=n + 1),
                    # pairs of rows share a timestamp: the id breaks the tie
                    "created_at": start + timedelta(seconds=n // 2),
                    "name": f"item {n}",
                }
                for n in range(25)
            ],
        )
    await owner.dispose()
    app_db = Database(make_engine(kraliki_database.url, schema=kraliki_database.schema))
    yield app_db
    await app_db.dispose()


@pytest.mark.parametrize("descending", [True, False])
async def test_pages_cover_every_row_once_in_order(database, descending):
    order_by = (Item.created_at, Item.id)
    seen, cursor, pages = [], None, 0
    async with database.session() as session:
        while True:
            rows, cursor = await paginate(
                session,
                select(Item),
                order_by=order_by,
                params=PageParams(limit=7, cursor=cursor),
                descending=descending,
            )
            seen.extend(rows)
            pages += 1
            if cursor is None:
                break
    assert pages == 4
    keys = [(row.created_at, row.id) for row in seen]
    assert keys == sorted(keys, reverse=descending)
    assert len({row.id for row in seen}) == 25


async def test_exact_multiple_has_no_empty_last_page(database):
    async with database.session() as session:
        rows, cursor = await paginate(
            session,
            select(Item),
            order_by=(Item.created_at, Item.id),
            params=PageParams(limit=25),
        )
    assert len(rows) == 25
    assert cursor is None


@pytest.mark.parametrize(
    "cursor",
    [
        "not-base64!!",
        encode_cursor(["name"], ["x"]),  # a cursor of another list
        encode_cursor(["created_at", "id"], ["yesterday", "x"]),
        encode_cursor(["created_at", "id"], [1, 2]),
    ],
)
async def test_foreign_or_forged_cursors_are_rejected(database, cursor):
    async with database.session() as session:
        with pytest.raises(ProblemError) as raised:
            await paginate(
                session,
                select(Item),
                order_by=(Item.created_at, Item.id),
                params=PageParams(limit=5, cursor=cursor),
            )
    assert raised.value.problem.slug == "invalid-cursor"
