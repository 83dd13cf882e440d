"""The model the anthropic provider uses when a tenant names none, and list prices for the
usage meter. Prices are estimates (US dollars per million tokens, Anthropic's published list
prices for standard processing when this was written); check anthropic.com/pricing. A model
not listed is metered at zero cost. Anthropic has no embeddings."""

from __future__ import annotations

from decimal import Decimal

from plugins.ai import ModelPrice

CHAT_MODEL = "claude-haiku-4-5"


def _price(input_per_million: str, output_per_million: str) -> ModelPrice:
    return ModelPrice(Decimal(input_per_million), Decimal(output_per_million))


PRICES = {
    "claude-haiku-4-5": _price("1.00", "5.00"),
    "claude-sonnet-4-5": _price("3.00", "15.00"),
    "claude-opus-4-1": _price("15.00", "75.00"),
    "claude-3-5-haiku-latest": _price("0.80", "4.00"),
}
