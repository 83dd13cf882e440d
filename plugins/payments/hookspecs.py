"""Hooks the payments plugin adds: payment processors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from kernel import hookspec

if TYPE_CHECKING:
    from plugins.payments.processor import ProcessorSpec


@hookspec
def kraliki_payment_processors() -> Sequence[ProcessorSpec]:  # type: ignore[empty-body]
    """Contribute payment processors (Stripe, yours).

    Called once per platform while ``payments`` configures itself. A processor's name must
    be unique (two plugins offering one name stop the platform). See
    :mod:`plugins.payments.processor` and ``docs/plugins/payments.md`` for the contract.
    """
