"""Re-ranking by the tenant's feedback: this is what the original backend's ``trainModel``
became. No model is trained; each article's score is multiplied by a boost from what the
organization's agents said of it:

    boost = (2 + useful + 0.5 * used) / (2 + not_useful)

An article never judged keeps its score (boost 1); one found useful once weighs 1.5 times,
one found not useful twice half as much. The 2s keep one click from swinging it far.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import Integer, case, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from plugins.agent_assist.models import Article, Feedback


def boost(useful: int, not_useful: int, used: int) -> float:
    return (2 + useful + 0.5 * used) / (2 + not_useful)


async def boosts(session: AsyncSession, article_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, float]:
    """The boost of each article that has feedback (the others: 1)."""
    if not article_ids:
        return {}
    rows = await session.execute(
        select(
            Feedback.article_id,
            func.sum(case((Feedback.useful.is_(True), 1), else_=0)),
            func.sum(case((Feedback.useful.is_(False), 1), else_=0)),
            func.sum(case((Feedback.used.is_(True), 1), else_=0).cast(Integer)),
        )
        .where(Feedback.article_id.in_(list(article_ids)))
        .group_by(Feedback.article_id)
    )
    return {
        article_id: boost(int(useful or 0), int(not_useful or 0), int(used or 0))
        for article_id, useful, not_useful, used in rows.all()
        if article_id is not None
    }


async def rerank(
    session: AsyncSession, found: Sequence[tuple[Article, float]]
) -> list[tuple[Article, float]]:
    """``found`` with each score times its article's boost, best first."""
    weights = await boosts(session, [article.id for article, _ in found])
    ranked = [(article, score * weights.get(article.id, 1.0)) for article, score in found]
    ranked.sort(key=lambda pair: (-pair[1], str(pair[0].id)))
    return ranked
