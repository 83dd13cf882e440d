"""The models the openai provider uses when a tenant names none, and list prices for the
usage meter. Prices are estimates (US dollars per million tokens, OpenAI's published list
prices for standard processing when this was written); check openai.com/api/pricing. A model
not listed is metered at zero cost."""

from __future__ import annotations

from decimal import Decimal

from plugins.ai import ModelPrice

CHAT_MODEL = "gpt-4.1-mini"
EMBEDDING_MODEL = "text-embedding-3-small"
EMBEDDING_DIMENSIONS = 1536


def _price(input_per_million: str, output_per_million: str) -> ModelPrice:
    return ModelPrice(Decimal(input_per_million), Decimal(output_per_million))


PRICES = {
    "gpt-4.1": _price("2.00", "8.00"),
    "gpt-4.1-mini": _price("0.40", "1.60"),
    "gpt-4.1-nano": _price("0.10", "0.40"),
    "gpt-4o": _price("2.50", "10.00"),
    "gpt-4o-mini": _price("0.15", "0.60"),
    "text-embedding-3-small": _price("0.02", "0"),
    "text-embedding-3-large": _price("0.13", "0"),
}
