"""The Stripe stand-in through the official ``stripe`` SDK: PaymentIntents, refunds, lists,
idempotency, errors as the SDK classifies them, and webhooks the SDK verifies."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
import stripe

from kernel.testing import wait_until
from plugins.stripe.testing import StripeStandIn, decode_form

# The SDK's httpx client posts its form body as ``data=`` bytes, which httpx deprecates.
pytestmark = pytest.mark.filterwarnings("ignore:Use 'content=<...>':DeprecationWarning")

CARD_ONLY = {"enabled": True, "allow_redirects": "never"}


def intent_params(**fields: Any) -> dict[str, Any]:
    return {
        "amount": 1500,
        "currency": "usd",
        "automatic_payment_methods": CARD_ONLY,
        "metadata": {"call_id": "call-1"},
    } | fields


async def paid(client: stripe.StripeClient, amount: int = 1500, **fields: Any) -> Any:
    """A PaymentIntent created and confirmed in one call (with ``pm_card_visa`` by default)."""
    params = intent_params(amount=amount, payment_method="pm_card_visa", confirm=True) | fields
    return await client.v1.payment_intents.create_async(params)


# --- PaymentIntents ---------------------------------------------------------------------


async def test_create_confirm_and_retrieve_a_payment(client, stand_in):
    created = await client.v1.payment_intents.create_async(intent_params())
    assert (created.object, created.status, created.amount, created.currency) == (
        "payment_intent",
        "requires_payment_method",
        1500,
        "usd",
    )
    assert created.id.startswith("pi_")
    assert created.client_secret.startswith(f"{created.id}_secret_")
    assert created.metadata.to_dict() == {"call_id": "call-1"}
    assert created.last_response.request_id.startswith("req_")

    confirmed = await client.v1.payment_intents.confirm_async(
        created.id, {"payment_method": "pm_card_visa"}
    )
    assert (confirmed.status, confirmed.amount_received) == ("succeeded", 1500)
    assert confirmed.payment_method.startswith("pm_")  # a PaymentMethod of its own, as Stripe
    assert confirmed.payment_method != "pm_card_visa"

    found = await client.v1.payment_intents.retrieve_async(
        created.id, {"expand": ["latest_charge"]}
    )
    charge = found.latest_charge
    assert (charge.object, charge.status, charge.paid, charge.captured) == (
        "charge",
        "succeeded",
        True,
        True,
    )
    assert (charge.amount_captured, charge.payment_intent) == (1500, created.id)
    assert charge.payment_method_details.card.last4 == "4242"

    # What reached "Stripe": form-encoded, nested with brackets, with the secret key.
    first = stand_in.requests[0]
    assert (first.method, first.path, first.api_key) == (
        "POST",
        "/v1/payment_intents",
        stand_in.api_key,
    )
    assert first.params["metadata"] == {"call_id": "call-1"}
    assert first.params["amount"] == "1500"
    assert first.idempotency_key is not None  # the SDK sends one with every POST
    assert stand_in.requests[-1].params == {"expand": ["latest_charge"]}


async def test_confirm_on_create_and_the_sync_client(client):
    intent = await paid(client, description="Order 7")
    assert (intent.status, intent.description) == ("succeeded", "Order 7")

    # The SDK's synchronous client (requests) reaches the stand-in too, from a thread.
    again = await asyncio.to_thread(client.v1.payment_intents.retrieve, intent.id)
    assert again.status == "succeeded"


@pytest.mark.parametrize(
    ("payment_method", "code", "decline_code", "message"),
    [
        ("pm_card_chargeDeclined", "card_declined", "generic_decline", "Your card was declined."),
        (
            "pm_card_visa_chargeDeclinedInsufficientFunds",
            "card_declined",
            "insufficient_funds",
            "Your card has insufficient funds.",
        ),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "expired_card", None),
        ("pm_card_chargeDeclinedIncorrectCvc", "incorrect_cvc", "incorrect_cvc", None),
    ],
)
async def test_a_declined_card_is_a_card_error(
    client, stand_in, payment_method, code, decline_code, message
):
    intent = await client.v1.payment_intents.create_async(intent_params())
    with pytest.raises(stripe.CardError) as raised:
        await client.v1.payment_intents.confirm_async(intent.id, {"payment_method": payment_method})
    error = raised.value
    assert (error.http_status, error.code, error.error.type) == (402, code, "card_error")
    assert error.error.decline_code == decline_code
    if message is not None:
        assert error.user_message == message
    assert error.request_id.startswith("req_")
    assert error.error.payment_intent.id == intent.id

    after = await client.v1.payment_intents.retrieve_async(intent.id)
    assert after.status == "requires_payment_method"
    assert after.last_payment_error.code == code
    charge = await client.v1.charges.retrieve_async(after.last_payment_error.charge)
    assert (charge.status, charge.failure_code) == ("failed", code)
    assert [e["type"] for e in stand_in.events][-2:] == [
        "charge.failed",
        "payment_intent.payment_failed",
    ]


async def test_three_d_secure_needs_an_action_then_succeeds(client, stand_in):
    intent = await paid(client, payment_method="pm_card_authenticationRequired")
    assert intent.status == "requires_action"
    assert intent.next_action.type == "use_stripe_sdk"

    stand_in.settle(intent.id)  # the customer authenticates
    assert (await client.v1.payment_intents.retrieve_async(intent.id)).status == "succeeded"

    failed = await paid(client, payment_method="pm_card_authenticationRequired")
    stand_in.settle(failed.id, succeed=False)
    after = await client.v1.payment_intents.retrieve_async(failed.id)
    assert after.status == "requires_payment_method"
    assert after.last_payment_error.code == "payment_intent_authentication_failure"

    with pytest.raises(stripe.CardError) as raised:
        await paid(client, payment_method="pm_card_authenticationRequired", off_session=True)
    assert raised.value.code == "authentication_required"


async def test_stripe_refuses_what_it_refuses(client):
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.create_async({"currency": "usd"})
    assert (raised.value.code, raised.value.param) == ("parameter_missing", "amount")
    assert str(raised.value.user_message) == "Missing required param: amount."

    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.create_async(intent_params(amount=20))
    assert raised.value.code == "amount_too_small"
    assert raised.value.user_message == "Amount must be at least $0.50 usd"

    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.create_async(intent_params(colour="blue"))
    assert (raised.value.code, raised.value.param) == ("parameter_unknown", "colour")

    with pytest.raises(stripe.InvalidRequestError) as raised:  # redirects allowed, no return_url
        await client.v1.payment_intents.create_async(
            {"amount": 1500, "currency": "usd", "payment_method": "pm_card_visa", "confirm": True}
        )
    assert raised.value.param == "return_url"

    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.retrieve_async("pi_nothing")
    assert (raised.value.http_status, raised.value.code) == (404, "resource_missing")
    assert raised.value.user_message == "No such payment_intent: 'pi_nothing'"


async def test_cancel(client, stand_in):
    intent = await client.v1.payment_intents.create_async(intent_params())
    canceled = await client.v1.payment_intents.cancel_async(
        intent.id, {"cancellation_reason": "requested_by_customer"}
    )
    assert (canceled.status, canceled.cancellation_reason) == ("canceled", "requested_by_customer")
    assert canceled.canceled_at is not None
    assert stand_in.events[-1]["type"] == "payment_intent.canceled"

    succeeded = await paid(client)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.cancel_async(succeeded.id)
    assert raised.value.code == "payment_intent_unexpected_state"
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.confirm_async(succeeded.id)
    assert raised.value.code == "payment_intent_unexpected_state"


async def test_manual_capture_of_part(client):
    intent = await paid(client, capture_method="manual")
    assert (intent.status, intent.amount_capturable) == ("requires_capture", 1500)
    captured = await client.v1.payment_intents.capture_async(intent.id, {"amount_to_capture": 1000})
    assert (captured.status, captured.amount_received) == ("succeeded", 1000)
    refund = await client.v1.refunds.create_async({"payment_intent": intent.id})
    assert refund.amount == 1000  # what was captured, not what was authorized


# --- lists --------------------------------------------------------------------------------


async def test_lists_page_newest_first_within_created(client, stand_in):
    now = [1_800_000_000]
    stand_in.clock = lambda: now[0]
    ids = []
    for _ in range(5):
        ids.append((await client.v1.payment_intents.create_async(intent_params())).id)
        now[0] += 60
    newest_first = ids[::-1]

    page = await client.v1.payment_intents.list_async({"limit": 2})
    assert (page.object, page.url, page.has_more) == ("list", "/v1/payment_intents", True)
    assert [i.id for i in page.data] == newest_first[:2]

    following = await client.v1.payment_intents.list_async(
        {"limit": 2, "starting_after": page.data[-1].id}
    )
    assert [i.id for i in following.data] == newest_first[2:4]
    back = await client.v1.payment_intents.list_async(
        {"limit": 2, "ending_before": following.data[0].id}
    )
    assert [i.id for i in back.data] == newest_first[:2]

    everything = [i.id async for i in page.auto_paging_iter()]
    assert everything == newest_first

    window = await client.v1.payment_intents.list_async(
        {"created": {"gte": 1_800_000_060, "lte": 1_800_000_180}, "limit": 10}
    )
    assert [i.id for i in window.data] == newest_first[1:4]
    assert window.has_more is False
    assert stand_in.requests[-1].params["created"] == {
        "gte": "1800000060",
        "lte": "1800000180",
    }

    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.payment_intents.list_async({"starting_after": "pi_gone"})
    assert (raised.value.code, raised.value.param) == ("resource_missing", "starting_after")


# --- refunds ------------------------------------------------------------------------------


async def test_refund_part_then_the_rest_and_never_more(client, stand_in):
    intent = await paid(client, amount=1500)
    part = await client.v1.refunds.create_async(
        {"payment_intent": intent.id, "amount": 400, "metadata": {"ticket": "T-1"}}
    )
    assert (part.object, part.amount, part.status, part.payment_intent) == (
        "refund",
        400,
        "succeeded",
        intent.id,
    )
    assert part.charge == intent.latest_charge

    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.refunds.create_async({"payment_intent": intent.id, "amount": 1200})
    assert (raised.value.code, raised.value.param) == ("amount_too_large", "amount")
    assert raised.value.user_message == (
        "Refund amount ($12.00) is greater than unrefunded amount on charge ($11.00)"
    )

    rest = await client.v1.refunds.create_async({"payment_intent": intent.id})
    assert rest.amount == 1100
    charge = await client.v1.charges.retrieve_async(intent.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (1500, True)

    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.refunds.create_async({"payment_intent": intent.id, "amount": 1})
    assert raised.value.code == "charge_already_refunded"

    listed = await client.v1.refunds.list_async({"payment_intent": intent.id})
    assert [r.id for r in listed.data] == [rest.id, part.id]
    assert (await client.v1.refunds.retrieve_async(part.id)).metadata.to_dict() == {"ticket": "T-1"}
    other = await paid(client)
    await client.v1.refunds.create_async({"payment_intent": other.id})
    assert len((await client.v1.refunds.list_async()).data) == 3
    assert [e["type"] for e in stand_in.events if e["type"].startswith(("refund", "charge.ref"))][
        :2
    ] == ["refund.created", "charge.refunded"]

    unpaid = await client.v1.payment_intents.create_async(intent_params())
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await client.v1.refunds.create_async({"payment_intent": unpaid.id})
    assert "does not have a successful charge to refund" in raised.value.user_message


async def test_refunds_that_settle_later(client, stand_in):
    pending = await client.v1.refunds.create_async(
        {"payment_intent": (await paid(client, payment_method="pm_card_pendingRefund")).id}
    )
    assert pending.status == "pending"
    stand_in.settle(pending.id)
    assert (await client.v1.refunds.retrieve_async(pending.id)).status == "succeeded"
    assert stand_in.events[-2]["type"] == "refund.updated"
    assert stand_in.events[-2]["data"]["previous_attributes"] == {"status": "pending"}

    intent = await paid(client, payment_method="pm_card_refundFail")
    failing = await client.v1.refunds.create_async({"payment_intent": intent.id})
    assert failing.status == "succeeded"  # at first, as Stripe's
    stand_in.settle(failing.id)
    failed = await client.v1.refunds.retrieve_async(failing.id)
    assert (failed.status, failed.failure_reason) == ("failed", "expired_or_canceled_card")
    assert stand_in.events[-1]["type"] == "refund.failed"
    charge = await client.v1.charges.retrieve_async(intent.latest_charge)
    assert (charge.amount_refunded, charge.refunded) == (0, False)


# --- idempotency --------------------------------------------------------------------------


async def test_the_same_key_replays_and_other_parameters_conflict(client, stand_in):
    options: Any = {"idempotency_key": "order-7-payment"}
    first = await client.v1.payment_intents.create_async(intent_params(), options)
    again = await client.v1.payment_intents.create_async(intent_params(), options)
    assert again.id == first.id
    assert again.last_response.headers["idempotent-replayed"] == "true"
    assert again.last_response.headers["original-request"] == first.last_response.request_id
    assert "idempotent-replayed" not in first.last_response.headers
    assert len(stand_in.payment_intents()) == 1

    with pytest.raises(stripe.IdempotencyError) as raised:
        await client.v1.payment_intents.create_async(intent_params(amount=2000), options)
    assert raised.value.http_status == 400
    assert "same parameters" in raised.value.user_message

    with pytest.raises(stripe.IdempotencyError):
        await client.v1.refunds.create_async({"payment_intent": first.id}, options)


async def test_a_retry_with_the_same_key_after_a_lost_answer_pays_once(stand_in):
    retrying = stripe.StripeClient(
        stand_in.api_key, base_addresses=stand_in.base_addresses, max_network_retries=1
    )
    stand_in.fail_next(1, 500, processed=True)  # it took effect; the answer was lost
    intent = await paid(retrying)
    assert intent.status == "succeeded"
    assert intent.last_response.headers["idempotent-replayed"] == "true"
    assert len(stand_in.payment_intents()) == 1
    assert stand_in.requests[0].idempotency_key == stand_in.requests[1].idempotency_key


async def test_a_timeout_leaves_the_payment_made(stand_in):
    impatient = stripe.StripeClient(
        stand_in.api_key,
        base_addresses=stand_in.base_addresses,
        max_network_retries=0,
        http_client=stripe.HTTPXClient(timeout=0.3),
    )
    stand_in.latency = 2.0
    params = intent_params(payment_method="pm_card_visa", confirm=True)
    with pytest.raises(stripe.APIConnectionError):
        await impatient.v1.payment_intents.create_async(params, {"idempotency_key": "slow"})
    await wait_until(stand_in.payment_intents)
    [made] = stand_in.payment_intents()
    assert made["status"] == "succeeded"  # Stripe did it; only the answer was late

    with pytest.raises(stripe.APIError) as raised:  # the first is still answering: 409
        await impatient.v1.payment_intents.create_async(params, {"idempotency_key": "slow"})
    assert raised.value.http_status == 409
    assert raised.value.error.type == "idempotency_error"
    assert raised.value.headers["stripe-should-retry"] == "true"


# --- errors as the SDK classifies them ------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "error_class", "kind"),
    [
        (400, stripe.InvalidRequestError, "invalid_request_error"),
        (401, stripe.AuthenticationError, "invalid_request_error"),
        (402, stripe.CardError, "card_error"),
        (403, stripe.PermissionError, "invalid_request_error"),
        (404, stripe.InvalidRequestError, "invalid_request_error"),
        (409, stripe.APIError, "idempotency_error"),
        (429, stripe.RateLimitError, "invalid_request_error"),
        (500, stripe.APIError, "api_error"),
        (503, stripe.APIError, "api_error"),
    ],
)
async def test_scripted_faults_raise_the_sdk_classes(client, stand_in, status, error_class, kind):
    stand_in.fail_next(1, status)
    with pytest.raises(error_class) as raised:
        await client.v1.payment_intents.create_async(intent_params())
    assert raised.value.http_status == status
    assert raised.value.error.type == kind
    assert raised.value.request_id.startswith("req_")
    assert stand_in.payment_intents() == []  # refused before it took effect
    if status == 429:
        assert raised.value.error.code == "rate_limit"
    assert (await client.v1.payment_intents.create_async(intent_params())).status


async def test_keys_are_checked_and_accounts_kept_apart(client, stand_in):
    balance = await client.v1.balance.retrieve_async()
    assert balance.object == "balance"
    account = await client.v1.accounts.retrieve_current_async()
    assert (account.object, account.id) == ("account", stand_in.account.id)

    wrong = stripe.StripeClient(
        "sk_test_wrong0000000000001234", base_addresses=stand_in.base_addresses
    )
    with pytest.raises(stripe.AuthenticationError) as raised:
        await wrong.v1.balance.retrieve_async()
    assert raised.value.http_status == 401
    assert raised.value.user_message.startswith("Invalid API Key provided: sk_test_****")
    assert raised.value.user_message.endswith("1234")  # masked, as Stripe does

    other = stand_in.add_account(display_name="Other Org")
    theirs = stripe.StripeClient(other.api_key, base_addresses=stand_in.base_addresses)
    mine = await paid(client)
    with pytest.raises(stripe.InvalidRequestError) as raised:
        await theirs.v1.payment_intents.retrieve_async(mine.id)
    assert raised.value.code == "resource_missing"
    assert (await theirs.v1.payment_intents.list_async()).data == []
    assert (await theirs.v1.accounts.retrieve_current_async()).id == other.id

    other.revoked = True
    with pytest.raises(stripe.AuthenticationError) as raised:
        await theirs.v1.balance.retrieve_async()
    assert raised.value.error.code == "api_key_expired"

    after = await asyncio.to_thread(client.v1.balance.retrieve)  # the synchronous client
    assert [(f.amount, f.currency) for f in after.available] == [(1500, "usd")]


# --- webhooks -----------------------------------------------------------------------------


async def test_events_are_signed_as_stripe_signs_them(client, stand_in, inbox):
    intent = await paid(client)
    await stand_in.drain()
    events = inbox.verified(stand_in.webhook_secret)
    assert [e.type for e in events] == [
        "payment_intent.created",
        "charge.succeeded",
        "payment_intent.succeeded",
    ]
    succeeded = events[-1]
    assert (succeeded.object, succeeded.livemode, succeeded.pending_webhooks) == (
        "event",
        False,
        1,
    )
    assert succeeded.id.startswith("evt_")
    assert succeeded.api_version == stripe.api_version
    assert succeeded.request.id == intent.last_response.request_id
    assert succeeded.data.object.id == intent.id
    assert succeeded.data.object.status == "succeeded"
    assert succeeded.data.object.metadata["call_id"] == "call-1"
    body, headers = inbox.received[-1]
    assert headers["stripe-signature"].startswith("t=")
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert json.loads(body)["type"] == "payment_intent.succeeded"
    assert [d.ok for d in stand_in.sent] == [True, True, True]

    listed = await client.v1.events.list_async({"type": "payment_intent.*"})
    assert [e.type for e in listed.data] == ["payment_intent.succeeded", "payment_intent.created"]
    assert (await client.v1.events.retrieve_async(succeeded.id)).type == succeeded.type


@pytest.mark.parametrize("how", ["wrong_secret", "tampered", "stale", "unsigned"])
async def test_a_forged_event_is_refused_by_the_sdk(client, stand_in, inbox, how):
    await paid(client)
    await stand_in.drain()
    await stand_in.send_forged(stand_in.events[-1], how=how)
    body, headers = inbox.received[-1]
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(
            body, headers.get("stripe-signature"), stand_in.webhook_secret
        )


async def test_duplicates_and_events_out_of_order(client, stand_in, inbox):
    stand_in.hold_events()
    stand_in.settle_later()
    intent = await paid(client)
    assert intent.status == "processing"
    stand_in.settle(intent.id)
    assert inbox.received == []  # held back
    assert [e for _, e in stand_in.held][-1]["type"] == "payment_intent.succeeded"

    await stand_in.release(reverse=True)
    types = [e.type for e in inbox.verified(stand_in.webhook_secret)]
    assert types.index("payment_intent.succeeded") < types.index("payment_intent.processing")

    delivery = await stand_in.resend(stand_in.events[-1]["id"])
    first, duplicate = inbox.verified(stand_in.webhook_secret)[0], delivery.event
    assert duplicate["id"] == first.id  # the same event again
    assert inbox.received[-1][0] == inbox.received[0][0]

    made = stand_in.event("payment_intent.succeeded", {"id": "pi_unknown", "object": "x"})
    await stand_in.send(made)
    assert inbox.verified(stand_in.webhook_secret)[-1].data.object.id == "pi_unknown"


async def test_a_failed_delivery_is_recorded(client, stand_in, inbox):
    inbox.status = 500
    await paid(client)
    await stand_in.drain()
    assert [d.status for d in stand_in.sent] == [500, 500, 500]
    assert not stand_in.sent[0].ok


# --- the form encoding ------------------------------------------------------------------------


def test_the_form_decoding_reads_stripes_brackets():
    assert decode_form(
        [
            ("amount", "100"),
            ("metadata[call_id]", "c-1"),
            ("metadata[0]", "zero"),
            ("expand[]", "latest_charge"),
            ("expand[]", "payment_method"),
            ("created[gte]", "5"),
            ("items[0][price]", "p"),
            ("items[1][price]", "q"),
        ]
    ) == {
        "amount": "100",
        "metadata": {"call_id": "c-1", "0": "zero"},
        "expand": ["latest_charge", "payment_method"],
        "created": {"gte": "5"},
        "items": [{"price": "p"}, {"price": "q"}],
    }


async def test_the_stand_in_is_not_stripe(stand_in):
    assert set(stand_in.base_addresses.values()) == {stand_in.url}
    assert stand_in.url.startswith("http://127.0.0.1:")
    assert stand_in.api_key.startswith("sk_test_")
    assert stand_in.webhook_secret.startswith("whsec_")
    assert isinstance(stand_in, StripeStandIn)
