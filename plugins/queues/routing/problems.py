"""Problem types of the offer routes (RFC 9457, ``/problems/<slug>``)."""

from __future__ import annotations

from kernel import define_problem

OFFER_NOT_FOUND = define_problem(
    "queues-offer-not-found",
    "Offer not found",
    404,
    "You have no offer with this id (offers are seen only by the agent they were made to).",
)
OFFER_NOT_LIVE = define_problem(
    "queues-offer-not-live",
    "Offer no longer open",
    409,
    "The offer was already accepted, declined, missed or withdrawn (`offer_status` says which).",
)
NOT_AN_AGENT = define_problem(
    "queues-not-an-agent",
    "Not an agent",
    404,
    "You have no agent profile in this organization, so no call can be offered to you.",
)
