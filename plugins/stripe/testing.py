"""A local stand-in for Stripe's API, for the payments plugin's tests and for anyone testing a
Kraliki payment integration without Stripe (or a key).

It speaks Stripe's v1 wire format to the official ``stripe`` SDK: form-encoded requests with
Stripe's bracket nesting (``metadata[call_id]=...``, ``expand[0]=...`` or ``expand[]=...``),
the secret key as a bearer (or basic) credential, Stripe-shaped JSON objects, Stripe's error
bodies (``{"error": {"type", "code", "message", "param", "decline_code", "doc_url",
"request_log_url", ...}}``) with Stripe's statuses and a ``Request-Id`` header on every answer.
It keeps PaymentIntents, charges, refunds and events per account (each secret key is one
account, so tenants with their own keys never see each other's objects), honours
``Idempotency-Key`` as Stripe does, and sends each state change as a webhook event signed with
Stripe's scheme (``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.payload">``)::

    async with StripeStandIn() as stand_in:
        client = stripe.StripeClient(
            stand_in.api_key, base_addresses=stand_in.base_addresses, max_network_retries=0
        )
        stand_in.webhook_url = f"{platform_url}/webhooks/stripe"  # events go there, signed
        intent = await client.v1.payment_intents.create_async({
            "amount": 1500, "currency": "eur", "payment_method": "pm_card_visa",
            "confirm": True, "metadata": {"call_id": "c-1"},
            "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
        })                                     # "succeeded"; pm_card_chargeDeclined: a 402
        await stand_in.drain()                 # its events delivered
        stand_in.fail_next(1, 429)             # throttle the next request
        stand_in.latency = 2.0                 # answer late, after taking effect (a timeout)
        stand_in.settle_later()                # the next payment stays "processing"...
        stand_in.settle(intent_id)             # ...until the test settles it
        stand_in.hold_events()                 # keep the next events back...
        await stand_in.release(reverse=True)   # ...then send them, newest first
        await stand_in.resend(stand_in.events[-1])        # a duplicate delivery
        await stand_in.send_forged(stand_in.events[-1])   # one a receiver must refuse
        stand_in.requests[-1].params, stand_in.sent[-1].event["type"]   # what happened

Served: ``POST``/``GET /v1/payment_intents``, ``GET``/``POST /v1/payment_intents/{id}``,
``POST /v1/payment_intents/{id}/confirm``, ``/cancel`` and ``/capture``, ``POST``/``GET
/v1/refunds``, ``GET /v1/refunds/{id}``, ``GET /v1/charges`` and ``/v1/charges/{id}``, ``GET
/v1/payment_methods/{id}``, ``GET /v1/events`` and ``/v1/events/{id}``, ``GET /v1/balance``
and ``GET /v1/account`` (the cheap call a key check makes). Lists are Stripe's (newest
first, ``limit``, ``starting_after``/``ending_before``, ``created[gte]``/``[gt]``/``[lt]``/
``[lte]``); ``expand`` works for the ids a PaymentIntent, charge or refund links to.

Confirming with one of Stripe's test payment methods (:data:`TEST_PAYMENT_METHODS`) does what
Stripe does: ``pm_card_visa`` succeeds, ``pm_card_chargeDeclined`` and the other declines
answer 402 ``card_error`` (the PaymentIntent back at ``requires_payment_method``),
``pm_card_authenticationRequired`` needs 3D Secure (``requires_action``, see :meth:`settle`),
``pm_card_pendingRefund`` and ``pm_card_refundFail`` make refunds that settle later. Not
modelled: customers, Checkout, search, disputes, Connect.

As Stripe: a key's first result (success, card error or server error) is replayed for the same
request with ``Idempotent-Replayed: true``; the same key with other parameters or another
endpoint is a 400 ``idempotency_error``, and while its first request is still running, a 409.
An unknown parameter is a 400 ``parameter_unknown``. A bad key is a 401 whose ``type`` is
``invalid_request_error`` (Stripe's; the SDK raises ``AuthenticationError`` by status).
Events are recorded per account and POSTed, in order, only to an account with a webhook URL.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import copy
import hashlib
import hmac
import json
import re
import secrets
import string
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Literal
from urllib.parse import parse_qsl

import httpx
import stripe
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

__all__ = [
    "API_VERSION",
    "TEST_PAYMENT_METHODS",
    "Account",
    "Card",
    "Decline",
    "Delivery",
    "Fault",
    "Received",
    "StripeStandIn",
    "decode_form",
    "signature_header",
]

Obj = dict[str, Any]
"""A Stripe object (or any JSON object) as the stand-in keeps and answers it."""

API_VERSION: str = stripe.api_version
"""The API version the stand-in answers in and renders events with: the installed SDK's."""

ALPHANUMERIC = string.ascii_letters + string.digits
FORGED_SECRET = "whsec_forged0000000000000000000000"  # noqa: S105 (not a secret: a wrong one)
WEBHOOK_HEADERS = {
    "Content-Type": "application/json; charset=utf-8",
    "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
    "Accept": "*/*; q=0.5, application/xml",
    "Cache-Control": "no-cache",
}


def names(text: str) -> frozenset[str]:
    return frozenset(text.split())


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{''.join(secrets.choice(ALPHANUMERIC) for _ in range(length))}"


def new_secret_key() -> str:
    return new_id("sk_test", 40)


def new_webhook_secret() -> str:
    return "whsec_" + secrets.token_hex(16)


# --- test payment methods ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Decline:
    """How the card issuer refuses a payment: Stripe's ``code``, ``decline_code``, message."""

    code: str
    decline_code: str | None
    message: str
    param: str | None = None


GENERIC = Decline("card_declined", "generic_decline", "Your card was declined.")


@dataclass(frozen=True, slots=True)
class Card:
    """What a test payment method does when a PaymentIntent is confirmed with it."""

    brand: str
    last4: str
    funding: str = "credit"
    decline: Decline | None = None
    authentication: bool = False
    """3D Secure is required: the PaymentIntent goes to ``requires_action``."""
    refunds: Literal["succeeded", "pending", "fail"] = "succeeded"
    """A refund's first status; ``pending`` settles to ``succeeded``, ``fail`` (which starts
    ``succeeded``, as Stripe's does) to ``failed``, when a test calls :meth:`settle`."""


def _declined(last4: str, decline: Decline) -> Card:
    return Card("visa", last4, decline=decline)


_INSUFFICIENT = Decline("card_declined", "insufficient_funds", "Your card has insufficient funds.")
_LOST = Decline("card_declined", "lost_card", "Your card was declined.")
_STOLEN = Decline("card_declined", "stolen_card", "Your card was declined.")
_VELOCITY = Decline(
    "card_declined",
    "card_velocity_exceeded",
    "Your card was declined for making repeated attempts too frequently or exceeding its "
    "amount limit.",
)

TEST_PAYMENT_METHODS: dict[str, Card] = {
    "pm_card_visa": Card("visa", "4242"),
    "pm_card_visa_debit": Card("visa", "5556", "debit"),
    "pm_card_mastercard": Card("mastercard", "4444"),
    "pm_card_mastercard_debit": Card("mastercard", "8210", "debit"),
    "pm_card_mastercard_prepaid": Card("mastercard", "5100", "prepaid"),
    "pm_card_amex": Card("amex", "8431"),
    "pm_card_discover": Card("discover", "1117"),
    "pm_card_diners": Card("diners", "0004"),
    "pm_card_jcb": Card("jcb", "0505"),
    "pm_card_unionpay": Card("unionpay", "0005"),
    "pm_card_bypassPending": Card("visa", "0077"),
    "pm_card_chargeDeclined": _declined("0002", GENERIC),
    "pm_card_visa_chargeDeclined": _declined("0002", GENERIC),
    "pm_card_chargeDeclinedInsufficientFunds": _declined("9995", _INSUFFICIENT),
    "pm_card_visa_chargeDeclinedInsufficientFunds": _declined("9995", _INSUFFICIENT),
    "pm_card_chargeDeclinedLostCard": _declined("9987", _LOST),
    "pm_card_visa_chargeDeclinedLostCard": _declined("9987", _LOST),
    "pm_card_chargeDeclinedStolenCard": _declined("9979", _STOLEN),
    "pm_card_visa_chargeDeclinedStolenCard": _declined("9979", _STOLEN),
    "pm_card_chargeDeclinedVelocityLimitExceeded": _declined("6975", _VELOCITY),
    "pm_card_visa_chargeDeclinedVelocityLimitExceeded": _declined("6975", _VELOCITY),
    "pm_card_chargeDeclinedExpiredCard": _declined(
        "0069", Decline("expired_card", "expired_card", "Your card has expired.", "exp_month")
    ),
    "pm_card_chargeDeclinedIncorrectCvc": _declined(
        "0127",
        Decline("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect.", "cvc"),
    ),
    "pm_card_chargeDeclinedProcessingError": _declined(
        "0119",
        Decline(
            "processing_error",
            "processing_error",
            "An error occurred while processing your card. Try again in a little bit.",
        ),
    ),
    "pm_card_radarBlock": _declined(
        "0019", Decline("card_declined", "fraudulent", "Your card was declined.")
    ),
    "pm_card_authenticationRequired": Card("visa", "3184", authentication=True),
    "pm_card_authenticationRequiredOnSetup": Card("visa", "3155", authentication=True),
    "pm_card_threeDSecure2Required": Card("visa", "3220", authentication=True),
    "pm_card_pendingRefund": Card("visa", "7726", refunds="pending"),
    "pm_card_refundFail": Card("visa", "5126", refunds="fail"),
}
"""Stripe's documented test PaymentMethod ids (https://docs.stripe.com/testing) and what
confirming with each does."""

AUTHENTICATION_REQUIRED = Decline(
    "authentication_required",
    "authentication_required",
    "Your card was declined. This transaction requires authentication.",
)

# --- currencies --------------------------------------------------------------------------

ZERO_DECIMAL = names("bif clp djf gnf jpy kmf krw mga pyg rwf ugx vnd vuv xaf xof xpf")
MINIMUM_AMOUNT = {
    "usd": 50, "eur": 50, "gbp": 30, "czk": 1500, "pln": 200, "huf": 17500, "chf": 50,
    "sek": 300, "nok": 300, "dkk": 250, "ron": 200, "bgn": 100, "cad": 50, "aud": 50,
    "nzd": 50, "jpy": 50, "hkd": 400, "sgd": 50, "mxn": 1000, "brl": 50, "inr": 50, "aed": 200,
}  # fmt: skip
"""Stripe's minimum charge amounts (minor units); other currencies accept any positive one."""
CURRENCIES = (
    frozenset(MINIMUM_AMOUNT)
    | ZERO_DECIMAL
    | names("ars cop egp idr ils isk kes kzt mad myr ngn php pkr qar sar thb try twd uah zar")
)
SYMBOLS = {"usd": "$", "eur": "€", "gbp": "£", "jpy": "¥"}
MAXIMUM_AMOUNT = 99_999_999


def money(amount: int, currency: str) -> str:
    """An amount as Stripe writes it in messages: ``$10.00``, ``€0.50``, ``1,500.00 CZK``."""
    major = f"{amount:,}" if currency in ZERO_DECIMAL else f"{amount / 100:,.2f}"
    symbol = SYMBOLS.get(currency)
    return f"{symbol}{major}" if symbol else f"{major} {currency.upper()}"


# --- the wire format ---------------------------------------------------------------------


def decode_form(pairs: Iterable[tuple[str, str]]) -> Obj:
    """Stripe's form encoding, decoded: ``a[b][c]=1`` nests, ``a[0]=x`` and ``a[]=x`` make
    lists (``metadata`` stays a hash whatever its keys)."""
    root: Obj = {}
    for key, value in pairs:
        base, bracket, rest = key.partition("[")
        parts = [base, *re.findall(r"\[([^\]]*)\]", bracket + rest)]
        node = root
        for index, part in enumerate(parts):
            name = str(len(node)) if part == "" else part
            if index == len(parts) - 1:
                node[name] = value
                break
            child = node.setdefault(name, {})
            if not isinstance(child, dict):
                raise Refusal(400, f"Invalid hash: {key}", param=parts[0])
            node = child
    decoded = _with_lists(root)
    if not isinstance(decoded, dict):  # every name a number: no parameter Stripe knows
        raise Refusal(400, f"Received unknown parameter: {next(iter(root))}")
    return decoded


def _with_lists(node: Any, parent: str = "") -> Any:
    if not isinstance(node, dict):
        return node
    children = {key: _with_lists(value, key) for key, value in node.items()}
    if children and parent != "metadata" and all(key.isdigit() for key in children):
        return [children[key] for key in sorted(children, key=int)]
    return children


def signature_header(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """Stripe's ``Stripe-Signature`` for ``payload``: ``t=<unix>,v1=<hex HMAC-SHA256 of
    "<t>.<payload>" keyed with the endpoint secret>`` (and a ``v0`` that test mode adds)."""
    stamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{stamp}.".encode() + payload
    v1 = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    v0 = hmac.new(b"v0" + secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={v1},v0={v0}"


class Refusal(Exception):
    """An error answer in Stripe's shape (raised by the handlers)."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        kind: str = "invalid_request_error",
        code: str | None = None,
        param: str | None = None,
        decline_code: str | None = None,
        extra: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.kind = kind
        self.code = code
        self.param = param
        self.decline_code = decline_code
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self, request_id: str, now: int) -> Obj:
        error: Obj = {"message": self.message, "type": self.kind}
        if self.code is not None:
            error["code"] = self.code
            error["doc_url"] = f"https://stripe.com/docs/error-codes/{self.code.replace('_', '-')}"
        if self.decline_code is not None:
            error["decline_code"] = self.decline_code
        if self.param is not None:
            error["param"] = self.param
        error["request_log_url"] = f"https://dashboard.stripe.com/test/logs/{request_id}?t={now}"
        error.update(self.extra)
        return {"error": error}


def missing(kind: str, object_id: str, param: str, status: int = 400) -> Refusal:
    return Refusal(status, f"No such {kind}: '{object_id}'", code="resource_missing", param=param)


def unexpected_state(message: str, intent: Obj | None = None) -> Refusal:
    extra = {"payment_intent": copy.deepcopy(intent)} if intent is not None else None
    return Refusal(400, message, code="payment_intent_unexpected_state", extra=extra)


def mask(key: str) -> str:
    prefix = key[:8] if key.startswith(("sk_test_", "sk_live_", "rk_test_")) else key[:3]
    return f"{prefix}{'*' * max(len(key) - len(prefix) - 4, 0)}{key[-4:]}"


# --- records and scripting ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Received:
    """One API request as the stand-in received it."""

    method: str
    path: str
    params: Obj
    """The decoded form body (POST) or query string (GET)."""
    api_key: str | None
    idempotency_key: str | None
    request_id: str


@dataclass(frozen=True, slots=True)
class Fault:
    status: int
    code: str | None = None
    message: str | None = None
    decline_code: str | None = None
    should_retry: bool | None = None
    """Sent as ``Stripe-Should-Retry`` (which the SDK obeys) when not None."""
    processed: bool = False
    """The request takes effect (and its idempotent result is kept) before the fault answers:
    a lost answer rather than a refused request."""


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook POST the stand-in made."""

    event: Obj
    url: str
    body: bytes
    headers: dict[str, str]
    status: int | None
    """The receiver's HTTP status (None: it could not be reached)."""
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


@dataclass(frozen=True, slots=True)
class _Saved:
    method: str
    path: str
    params: Obj
    status: int
    body: bytes
    request_id: str


@dataclass
class Account:
    """One Stripe account: its secret key, its webhook endpoint and its objects."""

    api_key: str = field(default_factory=new_secret_key)
    webhook_url: str | None = None
    """Where its events are POSTed (None: they are only recorded)."""
    webhook_secret: str = field(default_factory=new_webhook_secret)
    id: str = field(default_factory=lambda: new_id("acct", 16))
    display_name: str = "Kraliki Test"
    country: str = "US"
    default_currency: str = "usd"
    revoked: bool = False
    """Its key answers 401 ``api_key_expired`` (as a rolled key does)."""
    objects: dict[str, Obj] = field(default_factory=dict)
    """Every object by id (``pi_``, ``ch_``, ``re_``, ``pm_``), in creation order."""
    events: list[Obj] = field(default_factory=list)
    """Every event it generated, oldest first (whether or not it was delivered)."""
    cards: dict[str, Card] = field(default_factory=dict, repr=False)
    idempotent: dict[str, _Saved] = field(default_factory=dict, repr=False)
    in_flight: set[str] = field(default_factory=set, repr=False)
    return_urls: dict[str, str] = field(default_factory=dict, repr=False)

    def of_kind(self, kind: str) -> list[Obj]:
        return [o for o in self.objects.values() if o.get("object") == kind]


@dataclass
class _Call:
    """The context of one API request."""

    account: Account
    params: Obj
    request_id: str
    idempotency_key: str | None
    now: int


Handler = Callable[[_Call, str], Obj]

PI_FIELDS = names(
    "allowed_payment_method_types amount_details application_fee_amount capture_method "
    "customer customer_account description excluded_payment_method_types expand hooks "
    "metadata payment_details payment_method payment_method_configuration payment_method_data "
    "payment_method_options payment_method_types receipt_email setup_future_usage shipping "
    "statement_descriptor statement_descriptor_suffix transfer_data transfer_group"
)
CONFIRM_FIELDS = names(
    "allowed_payment_method_types amount_details amount_to_confirm capture_method "
    "confirmation_token error_on_requires_action excluded_payment_method_types expand hooks "
    "mandate mandate_data off_session payment_details payment_method payment_method_data "
    "payment_method_options payment_method_types radar_options receipt_email return_url "
    "setup_future_usage shipping use_stripe_sdk"
)
ALLOWED: dict[str, frozenset[str]] = {
    "create_intent": PI_FIELDS
    | CONFIRM_FIELDS
    | {"amount", "currency", "confirm", "confirmation_method", "automatic_payment_methods"}
    | {"on_behalf_of"},
    "update_intent": PI_FIELDS | {"amount", "currency"},
    "confirm": CONFIRM_FIELDS,
    "cancel": frozenset({"cancellation_reason", "expand"}),
    "capture": names(
        "amount_details amount_to_capture application_fee_amount expand final_capture hooks "
        "metadata payment_details statement_descriptor statement_descriptor_suffix "
        "transfer_data"
    ),
    "create_refund": names(
        "amount charge currency customer expand instructions_email metadata origin "
        "payment_intent reason refund_application_fee reverse_transfer"
    ),
    "list_intents": names(
        "created customer customer_account ending_before expand limit starting_after"
    ),
    "list_refunds": names(
        "charge created ending_before expand limit payment_intent starting_after"
    ),
    "list_charges": names(
        "created customer ending_before expand limit payment_intent starting_after transfer_group"
    ),
    "list_events": names(
        "created delivery_success ending_before expand limit starting_after type types"
    ),
    "retrieve_intent": frozenset({"client_secret", "expand"}),
}
EXPANDABLE = {
    "payment_intent": {"latest_charge", "payment_method", "customer"},
    "charge": {"payment_intent", "balance_transaction", "customer"},
    "refund": {"charge", "payment_intent", "balance_transaction"},
}
CANCELABLE = (
    "requires_payment_method",
    "requires_capture",
    "requires_confirmation",
    "requires_action",
    "processing",
)


# --- the stand-in ------------------------------------------------------------------------


@dataclass
class StripeStandIn:
    """Stripe's API on loopback (under ``/v1``), with one account to start with
    (:attr:`account`; more with :meth:`add_account`)."""

    account: Account = field(default_factory=Account)
    latency: float = 0.0
    """Seconds before each answer, after the request took effect (a slow or timed-out
    processor: the payment happened even if the client gave up)."""
    api_version: str = API_VERSION
    clock: Callable[[], float] = time.time
    """Where ``created`` timestamps come from."""
    webhook_transport: httpx.AsyncBaseTransport | None = None
    """How webhooks reach :attr:`Account.webhook_url` (None: the network; an
    ``httpx.ASGITransport`` delivers to an app in this process)."""
    webhook_timeout: float = 10.0
    accounts: dict[str, Account] = field(default_factory=dict)
    """Every account by secret key."""
    requests: list[Received] = field(default_factory=list)
    faults: deque[Fault] = field(default_factory=deque)
    sent: list[Delivery] = field(default_factory=list)
    """Every webhook delivery made, in order (duplicates and forgeries included)."""
    held: list[tuple[Account, Obj]] = field(default_factory=list)
    """Events kept back by :meth:`hold_events`, until :meth:`release`."""
    holding: bool = False
    url: str = ""
    """``http://127.0.0.1:<port>`` once started (the API is under ``/v1``)."""
    _settle_later: int = 0
    _outbox: asyncio.Queue[tuple[Account, Obj]] | None = field(default=None, repr=False)
    _worker: asyncio.Task[None] | None = field(default=None, repr=False)
    _http: httpx.AsyncClient | None = field(default=None, repr=False)
    _stack: contextlib.AsyncExitStack = field(default_factory=contextlib.AsyncExitStack, repr=False)

    def __post_init__(self) -> None:
        self.accounts.setdefault(self.account.api_key, self.account)

    # --- the default account ------------------------------------------------------------

    @property
    def api_key(self) -> str:
        return self.account.api_key

    @property
    def webhook_url(self) -> str | None:
        return self.account.webhook_url

    @webhook_url.setter
    def webhook_url(self, url: str | None) -> None:
        self.account.webhook_url = url

    @property
    def webhook_secret(self) -> str:
        return self.account.webhook_secret

    @property
    def events(self) -> list[Obj]:
        """The default account's events, oldest first."""
        return self.account.events

    @property
    def base_addresses(self) -> dict[str, str]:
        """``StripeClient(base_addresses=...)``: every Stripe host of the SDK is this one."""
        return {name: self.url for name in ("api", "connect", "files", "meter_events")}

    def add_account(self, **fields: Any) -> Account:
        """Another account (another organization's key): its objects are its own."""
        account = Account(**fields)
        self.accounts[account.api_key] = account
        return account

    def get(self, object_id: str, account: Account | None = None) -> Obj:
        """An object as the stand-in holds it now (a PaymentIntent, charge, refund...)."""
        return (account or self.account).objects[object_id]

    def payment_intents(self, account: Account | None = None) -> list[Obj]:
        return (account or self.account).of_kind("payment_intent")

    def refunds(self, account: Account | None = None) -> list[Obj]:
        return (account or self.account).of_kind("refund")

    # --- scripting ------------------------------------------------------------------------

    def fail_next(
        self,
        count: int = 1,
        status: int = 500,
        *,
        code: str | None = None,
        message: str | None = None,
        decline_code: str | None = None,
        should_retry: bool | None = None,
        processed: bool = False,
    ) -> None:
        """The next ``count`` requests answer ``status`` with Stripe's error body for it (400
        ``invalid_request_error``, 401, 402 ``card_error``, 403, 404 ``resource_missing``, 409
        ``idempotency_error``, 429 ``rate_limit``, 5xx ``api_error``). ``processed``: each
        request takes effect first (the answer is what gets lost)."""
        fault = Fault(status, code, message, decline_code, should_retry, processed)
        self.faults.extend(fault for _ in range(count))

    def settle_later(self, count: int = 1) -> None:
        """The next ``count`` payments that would succeed stay ``processing`` (their charge
        ``pending``) until :meth:`settle`."""
        self._settle_later += count

    def settle(
        self, object_id: str, *, succeed: bool | None = None, account: Account | None = None
    ) -> Obj:
        """Finish what Stripe would finish later, and emit its events:

        - a ``processing`` PaymentIntent succeeds (``succeed=False``: it fails, back to
          ``requires_payment_method``);
        - a ``requires_action`` one is authenticated and charged (``succeed=False``: the
          customer failed 3D Secure);
        - a ``pending`` refund succeeds, a ``pm_card_refundFail`` one fails (or as
          ``succeed`` says).
        """
        owner = account or self.account
        target = owner.objects.get(object_id)
        if target is None:
            raise KeyError(object_id)
        call = _Call(owner, {}, "", None, self.now())
        if target["object"] == "payment_intent" and target["status"] == "processing":
            charge = owner.objects[target["latest_charge"]]
            if succeed is False:
                self._fail_payment(call, target, charge, GENERIC)
            else:
                self._succeed_payment(call, target, charge)
        elif target["object"] == "payment_intent" and target["status"] == "requires_action":
            if succeed is False:
                self._authentication_failed(call, target)
            else:
                target["next_action"] = None
                self._charge(call, target, target["payment_method"], authenticated=True)
        elif target["object"] == "refund" and target["status"] in ("pending", "succeeded"):
            card = owner.cards.get(owner.objects[target["charge"]]["payment_method"])
            fails = card is not None and card.refunds == "fail"
            self._settle_refund(call, target, succeed=not fails if succeed is None else succeed)
        else:
            raise ValueError(f"{object_id} has nothing to settle ({target.get('status')})")
        return target

    def hold_events(self) -> None:
        """Keep the events generated from now on in :attr:`held` instead of delivering them,
        until :meth:`release`."""
        self.holding = True

    async def release(self, *, reverse: bool = False) -> list[Delivery]:
        """Deliver the held events now, in order or newest first, and stop holding."""
        held, self.held, self.holding = self.held, [], False
        if reverse:
            held.reverse()
        return [await self.send(event, account=account) for account, event in held]

    async def drain(self) -> None:
        """Wait until every queued event has been delivered (or failed to be)."""
        if self._outbox is not None:
            await self._outbox.join()

    def now(self) -> int:
        return int(self.clock())

    # --- webhooks -------------------------------------------------------------------------

    def event(
        self,
        kind: str,
        data_object: Obj,
        *,
        previous_attributes: Obj | None = None,
        account: Account | None = None,
        request_id: str | None = None,
        idempotency_key: str | None = None,
    ) -> Obj:
        """A Stripe event (not recorded, not sent): for sending one by hand."""
        owner = account or self.account
        data: Obj = {"object": copy.deepcopy(data_object)}
        if previous_attributes is not None:
            data["previous_attributes"] = previous_attributes
        return {
            "id": new_id("evt"),
            "object": "event",
            "api_version": self.api_version,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": 1 if owner.webhook_url else 0,
            "request": {"id": request_id, "idempotency_key": idempotency_key},
            "type": kind,
        }

    def signed(
        self,
        event: Obj,
        *,
        account: Account | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers Stripe would POST for ``event``, signed for the account's
        endpoint (or with ``secret``)."""
        body = json.dumps(event, indent=2).encode()
        key = secret or (account or self.account).webhook_secret
        headers = WEBHOOK_HEADERS | {"Stripe-Signature": signature_header(body, key, timestamp)}
        return body, headers

    def forge(
        self,
        event: Obj,
        *,
        how: Literal["wrong_secret", "tampered", "stale", "unsigned"] = "wrong_secret",
        account: Account | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """A delivery of ``event`` that a receiver must refuse: signed with another secret,
        altered after signing, signed ten minutes ago (beyond the SDK's 300 s tolerance), or
        not signed."""
        if how == "wrong_secret":
            return self.signed(event, account=account, secret=FORGED_SECRET)
        if how == "stale":
            return self.signed(event, account=account, timestamp=self.now() - 600)
        body, headers = self.signed(event, account=account)
        if how == "unsigned":
            del headers["Stripe-Signature"]
            return body, headers
        tampered = copy.deepcopy(event)
        tampered["data"]["object"]["amount"] = tampered["data"]["object"].get("amount", 0) + 100
        return json.dumps(tampered, indent=2).encode(), headers

    async def send(
        self,
        event: Obj,
        *,
        account: Account | None = None,
        url: str | None = None,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> Delivery:
        """POST ``event`` now to the account's endpoint (or ``url``), signed."""
        body, headers = self.signed(event, account=account, secret=secret, timestamp=timestamp)
        return await self._post(event, body, headers, url or (account or self.account).webhook_url)

    async def resend(self, event: Obj | str, *, account: Account | None = None) -> Delivery:
        """Deliver an event again (same id and payload, a fresh signature): a duplicate."""
        owner = account or self.account
        found = event if isinstance(event, dict) else self._event(owner, event)
        return await self.send(found, account=owner)

    async def send_forged(
        self,
        event: Obj,
        *,
        how: Literal["wrong_secret", "tampered", "stale", "unsigned"] = "wrong_secret",
        account: Account | None = None,
        url: str | None = None,
    ) -> Delivery:
        """POST a forgery of ``event`` (see :meth:`forge`)."""
        body, headers = self.forge(event, how=how, account=account)
        return await self._post(event, body, headers, url or (account or self.account).webhook_url)

    def _event(self, account: Account, event_id: str) -> Obj:
        for event in account.events:
            if event["id"] == event_id:
                return event
        raise KeyError(event_id)

    async def _post(
        self, event: Obj, body: bytes, headers: dict[str, str], url: str | None
    ) -> Delivery:
        if url is None:
            raise ValueError("no webhook URL: set Account.webhook_url or pass url")
        if self._http is None:
            raise RuntimeError("the stand-in is not started")
        try:
            response = await self._http.post(url, content=body, headers=headers)
        except httpx.HTTPError as error:
            delivery = Delivery(event, url, body, headers, None, repr(error))
        else:
            delivery = Delivery(event, url, body, headers, response.status_code)
        self.sent.append(delivery)
        return delivery

    def _emit(self, call: _Call, kind: str, data_object: Obj, previous: Obj | None = None) -> Obj:
        event = self.event(
            kind,
            data_object,
            previous_attributes=previous,
            account=call.account,
            request_id=call.request_id or None,
            idempotency_key=call.idempotency_key,
        )
        call.account.events.append(event)
        if call.account.webhook_url is not None:
            if self.holding:
                self.held.append((call.account, event))
            elif self._outbox is not None:
                self._outbox.put_nowait((call.account, event))
        return event

    async def _deliver_forever(self) -> None:
        assert self._outbox is not None
        while True:
            account, event = await self._outbox.get()
            try:
                with contextlib.suppress(Exception):  # a stand-in never stops delivering
                    await self.send(event, account=account)
            finally:
                self._outbox.task_done()

    # --- serving --------------------------------------------------------------------------

    async def start(self) -> None:
        from kernel.testing import serve_app

        self._http = httpx.AsyncClient(
            transport=self.webhook_transport, timeout=self.webhook_timeout
        )
        self._stack.push_async_callback(self._http.aclose)
        self._outbox = asyncio.Queue()
        self._worker = asyncio.create_task(self._deliver_forever())
        self._stack.push_async_callback(self._stop_worker)
        self.url = await self._stack.enter_async_context(serve_app(self.app))

    async def _stop_worker(self) -> None:
        if self._worker is not None:
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker

    async def stop(self) -> None:
        await self._stack.aclose()

    async def __aenter__(self) -> StripeStandIn:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def app(self) -> Starlette:
        """The ASGI app: every path reaches :meth:`handle`, which answers as Stripe would."""
        methods = ["GET", "POST", "DELETE"]
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=methods)])

    async def handle(self, request: Request) -> Response:
        request_id = new_id("req", 14)
        now = self.now()
        headers = {"Request-Id": request_id}
        early: Refusal | None = None
        try:
            params = await read_params(request)
        except Refusal as refusal:
            params, early = {}, refusal
        key = api_key_of(request.headers.get("authorization", ""))
        idempotency_key = request.headers.get("idempotency-key")
        if request.method != "POST":
            idempotency_key = None
        path = request.url.path
        self.requests.append(
            Received(request.method, path, params, key, idempotency_key, request_id)
        )
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        fault = self.faults.popleft() if self.faults else None
        if fault is not None and not fault.processed:
            return answer(fault_refusal(fault, key), request_id, now, headers)
        try:
            if early is not None:
                raise early
            account = self.authenticate(key)
            version = request.headers.get("stripe-version")
            if version is not None and not re.fullmatch(r"\d{4}-\d{2}-\d{2}(\.\w+)?", version):
                raise Refusal(400, f"Invalid Stripe API version: {version}")
            headers["Stripe-Version"] = version or self.api_version
        except Refusal as refusal:
            return answer(refusal, request_id, now, headers)
        call = _Call(account, params, request_id, idempotency_key, now)
        response = await self.idempotently(call, request.method, path, headers)
        if fault is not None:
            return answer(fault_refusal(fault, key), request_id, now, headers)
        return response

    def authenticate(self, key: str | None) -> Account:
        if key is None:
            raise Refusal(
                401,
                "You did not provide an API key. You need to provide your API key in the "
                "Authorization header, using Bearer auth (e.g. 'Authorization: Bearer "
                "YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, "
                "or we can help at https://support.stripe.com/.",
            )
        account = self.accounts.get(key)
        if account is None:
            raise Refusal(401, f"Invalid API Key provided: {mask(key)}")
        if account.revoked:
            raise Refusal(401, f"Expired API Key provided: {mask(key)}", code="api_key_expired")
        return account

    async def idempotently(
        self, call: _Call, method: str, path: str, headers: dict[str, str]
    ) -> Response:
        """Stripe's idempotency: a key's first result is kept and replayed for the same
        request; the same key with another endpoint or other parameters is refused (400
        ``idempotency_error``), and while its first request runs, 409."""
        key, account = call.idempotency_key, call.account
        if key is None:
            status, body = self.dispatch(call, method, path)
            await asyncio.sleep(self.latency)
            return json_answer(status, body, headers)
        saved = account.idempotent.get(key)
        if key in account.in_flight:
            refusal = Refusal(
                409,
                "There is currently another in-progress request using this Stripe-Account/"
                "Idempotency-Key combination. Please try again later.",
                kind="idempotency_error",
                code="idempotency_key_in_use",
                headers={"Stripe-Should-Retry": "true"},
            )
            return answer(refusal, call.request_id, call.now, headers)
        if saved is not None:
            if (saved.method, saved.path) != (method, path):
                return answer(
                    Refusal(
                        400,
                        "Keys for idempotent requests can only be used for the same endpoint "
                        f"they were first used for ('{method} {path}' vs '{saved.method} "
                        f"{saved.path}'). Try using a key other than '{key}' if you meant to "
                        "execute a different request.",
                        kind="idempotency_error",
                    ),
                    call.request_id,
                    call.now,
                    headers,
                )
            if saved.params != call.params:
                return answer(
                    Refusal(
                        400,
                        "Keys for idempotent requests can only be used with the same parameters "
                        f"they were first used with. Try using a key other than '{key}' if you "
                        "meant to execute a different request.",
                        kind="idempotency_error",
                    ),
                    call.request_id,
                    call.now,
                    headers,
                )
            replayed = headers | {
                "Idempotent-Replayed": "true",
                "Original-Request": saved.request_id,
            }
            return Response(
                saved.body,
                status_code=saved.status,
                media_type="application/json",
                headers=replayed,
            )
        account.in_flight.add(key)
        status, content = 500, b""
        try:
            status, body = self.dispatch(call, method, path)
            content = json.dumps(body, indent=2).encode()
            await asyncio.sleep(self.latency)
        finally:
            account.in_flight.discard(key)
            # Stripe keeps what a request that started executing answered (an error of its
            # parameters excepted): successes, card errors, server errors.
            if content and (status < 400 or status == 402 or status >= 500):
                account.idempotent[key] = _Saved(
                    method, path, call.params, status, content, call.request_id
                )
        return Response(
            content,
            status_code=status,
            media_type="application/json",
            headers=headers | {"Original-Request": call.request_id},
        )

    def dispatch(self, call: _Call, method: str, path: str) -> tuple[int, Obj]:
        try:
            handler, object_id, allowed = self.route(method, path)
            for name in call.params:
                if name not in allowed:
                    raise Refusal(
                        400,
                        f"Received unknown parameter: {name}",
                        code="parameter_unknown",
                        param=name,
                    )
            return 200, handler(call, object_id)
        except Refusal as refusal:
            return refusal.status, refusal.body(call.request_id, call.now)

    def route(self, method: str, path: str) -> tuple[Handler, str, frozenset[str]]:
        """The handler of a request, the id in its path and the parameters it accepts."""
        parts = path.strip("/").split("/")
        if parts[0] != "v1" or len(parts) < 2:
            raise unrecognized(method, path)
        resource, rest = parts[1], parts[2:]
        table: dict[tuple[str, str, int], tuple[Handler, str | None]] = {
            ("POST", "payment_intents", 0): (self.create_intent, "create_intent"),
            ("GET", "payment_intents", 0): (self.list_intents, "list_intents"),
            ("GET", "payment_intents", 1): (self.retrieve_intent, "retrieve_intent"),
            ("POST", "payment_intents", 1): (self.update_intent, "update_intent"),
            ("POST", "refunds", 0): (self.create_refund, "create_refund"),
            ("GET", "refunds", 0): (self.list_refunds, "list_refunds"),
            ("GET", "refunds", 1): (self.retrieve("refund", "id"), None),
            ("GET", "charges", 0): (self.list_charges, "list_charges"),
            ("GET", "charges", 1): (self.retrieve("charge", "charge"), None),
            ("GET", "payment_methods", 1): (
                self.retrieve("payment_method", "payment_method"),
                None,
            ),
            ("GET", "events", 0): (self.list_events, "list_events"),
            ("GET", "events", 1): (self.retrieve_event, None),
            ("GET", "balance", 0): (self.balance, None),
            ("GET", "account", 0): (self.retrieve_account, None),
        }
        actions: dict[str, Handler] = {
            "confirm": self.confirm,
            "cancel": self.cancel,
            "capture": self.capture,
        }
        if resource == "payment_intents" and len(rest) == 2 and method == "POST":
            action = actions.get(rest[1])
            if action is not None:
                return action, rest[0], ALLOWED[rest[1]]
        found = table.get((method, resource, len(rest)))
        if found is None:
            raise unrecognized(method, path)
        handler, accepts = found
        allowed = ALLOWED[accepts] if accepts is not None else frozenset({"expand"})
        return handler, rest[0] if rest else "", allowed

    # --- PaymentIntents -------------------------------------------------------------------

    def create_intent(self, call: _Call, _: str) -> Obj:
        params = call.params
        amount = amount_of(params, "amount", required=True)
        currency = currency_of(params, required=True)
        assert amount is not None
        assert currency is not None
        check_amount(amount, currency)
        capture_method = params.get("capture_method", "automatic_async")
        if capture_method not in ("automatic", "automatic_async", "manual"):
            raise Refusal(
                400,
                "Invalid capture_method: must be one of automatic, automatic_async, or manual",
                param="capture_method",
            )
        allowed_types = params.get("allowed_payment_method_types") or params.get(
            "payment_method_types"
        )
        automatic = params.get("automatic_payment_methods")
        if allowed_types:
            automatic_state = None
        elif isinstance(automatic, dict):
            automatic_state = {
                "allow_redirects": automatic.get("allow_redirects", "always"),
                "enabled": boolean(automatic, "enabled", "automatic_payment_methods[enabled]"),
            }
        else:
            automatic_state = {"allow_redirects": "always", "enabled": True}
        intent_id = new_id("pi")
        intent: Obj = {
            "id": intent_id,
            "object": "payment_intent",
            "allowed_payment_method_types": list(allowed_types) if allowed_types else None,
            "amount": amount,
            "amount_capturable": 0,
            "amount_details": {"tip": {}},
            "amount_received": 0,
            "application": None,
            "application_fee_amount": None,
            "automatic_payment_methods": automatic_state,
            "canceled_at": None,
            "cancellation_reason": None,
            "capture_method": capture_method,
            "client_secret": f"{intent_id}_secret_{new_id('', 25)[1:]}",
            "confirmation_method": params.get("confirmation_method", "automatic"),
            "created": call.now,
            "currency": currency,
            "customer": params.get("customer"),
            "description": params.get("description"),
            "last_payment_error": None,
            "latest_charge": None,
            "livemode": False,
            "metadata": metadata_of(params.get("metadata"), {}),
            "next_action": None,
            "on_behalf_of": params.get("on_behalf_of"),
            "payment_method": None,
            "payment_method_configuration_details": None,
            "payment_method_options": {
                "card": {
                    "installments": None,
                    "mandate_options": None,
                    "network": None,
                    "request_three_d_secure": "automatic",
                }
            },
            "payment_method_types": list(allowed_types) if allowed_types else ["card"],
            "processing": None,
            "receipt_email": params.get("receipt_email"),
            "review": None,
            "setup_future_usage": params.get("setup_future_usage"),
            "shipping": None,
            "source": None,
            "statement_descriptor": params.get("statement_descriptor"),
            "statement_descriptor_suffix": params.get("statement_descriptor_suffix"),
            "status": "requires_payment_method",
            "transfer_data": None,
            "transfer_group": params.get("transfer_group"),
        }
        confirm = boolean(params, "confirm")
        if confirm:
            self.check_return_url(call.account, intent, params)
        if params.get("payment_method"):
            intent["payment_method"] = self.payment_method(call, params["payment_method"])
            intent["status"] = "requires_confirmation"
        call.account.objects[intent_id] = intent
        self._emit(call, "payment_intent.created", intent)
        if confirm:
            resolved = {k: v for k, v in params.items() if k != "payment_method"}
            self._confirm(call, intent, resolved)
        return self.expanded(call, intent)

    def retrieve_intent(self, call: _Call, intent_id: str) -> Obj:
        return self.expanded(call, self.intent(call, intent_id))

    def update_intent(self, call: _Call, intent_id: str) -> Obj:
        intent, params = self.intent(call, intent_id), call.params
        changes_payment = {"amount", "currency", "payment_method"} & set(params)
        if changes_payment and intent["status"] not in (
            "requires_payment_method",
            "requires_confirmation",
            "requires_action",
        ):
            raise unexpected_state(
                f"This PaymentIntent's {sorted(changes_payment)[0]} could not be updated because "
                f"it has a status of {intent['status']}. You may only update the "
                f"{sorted(changes_payment)[0]} of a PaymentIntent with one of the following "
                "statuses: requires_payment_method, requires_confirmation, requires_action.",
                intent,
            )
        if "amount" in params:
            intent["amount"] = amount_of(params, "amount")
        if "currency" in params:
            intent["currency"] = currency_of(params)
        check_amount(intent["amount"], intent["currency"])
        if params.get("payment_method"):
            intent["payment_method"] = self.payment_method(call, params["payment_method"])
            intent["status"] = "requires_confirmation"
        if "metadata" in params:
            intent["metadata"] = metadata_of(params["metadata"], intent["metadata"])
        for name in ("description", "receipt_email", "statement_descriptor", "transfer_group"):
            if name in params:
                intent[name] = params[name] or None
        return self.expanded(call, intent)

    def confirm(self, call: _Call, intent_id: str) -> Obj:
        intent = self.intent(call, intent_id)
        if intent["status"] not in (
            "requires_payment_method",
            "requires_confirmation",
            "requires_action",
        ):
            raise unexpected_state(confirm_refusal(intent), intent)
        self.check_return_url(call.account, intent, call.params)
        self._confirm(call, intent, call.params)
        return self.expanded(call, intent)

    def cancel(self, call: _Call, intent_id: str) -> Obj:
        intent = self.intent(call, intent_id)
        if intent["status"] not in CANCELABLE:
            raise unexpected_state(
                "You cannot cancel this PaymentIntent because it has a status of "
                f"{intent['status']}. Only a PaymentIntent with one of the following statuses "
                f"may be canceled: {', '.join(CANCELABLE)}.",
                intent,
            )
        reason = call.params.get("cancellation_reason")
        reasons = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
        if reason is not None and reason not in reasons:
            raise Refusal(
                400,
                "Invalid cancellation_reason: must be one of duplicate, fraudulent, "
                "requested_by_customer, or abandoned",
                param="cancellation_reason",
            )
        charge = call.account.objects.get(intent["latest_charge"] or "")
        if charge is not None and charge["status"] == "pending":
            charge["status"] = "failed"
        elif charge is not None and charge["status"] == "succeeded" and not charge["captured"]:
            charge.update(refunded=True, amount_refunded=charge["amount"])  # authorization let go
        intent.update(
            status="canceled",
            canceled_at=call.now,
            cancellation_reason=reason,
            amount_capturable=0,
            next_action=None,
        )
        self._emit(call, "payment_intent.canceled", intent)
        return self.expanded(call, intent)

    def capture(self, call: _Call, intent_id: str) -> Obj:
        intent = self.intent(call, intent_id)
        if intent["status"] != "requires_capture":
            raise unexpected_state(
                "This PaymentIntent could not be captured because it has a status of "
                f"{intent['status']}. Only a PaymentIntent with one of the following statuses "
                "may be captured: requires_capture.",
                intent,
            )
        amount = amount_of(call.params, "amount_to_capture")
        capturable = intent["amount_capturable"]
        if amount is None:
            amount = capturable
        if amount > capturable:
            raise Refusal(
                400,
                f"The amount_to_capture ({amount}) is greater than the amount_capturable "
                f"({capturable}) on this PaymentIntent.",
                code="amount_too_large",
                param="amount_to_capture",
            )
        if "metadata" in call.params:
            intent["metadata"] = metadata_of(call.params["metadata"], intent["metadata"])
        charge = call.account.objects[intent["latest_charge"]]
        charge.update(
            amount_captured=amount,
            captured=True,
            balance_transaction=new_id("txn"),
            amount_refunded=charge["amount"] - amount,
        )
        intent.update(status="succeeded", amount_received=amount, amount_capturable=0)
        self._emit(call, "charge.captured", charge)
        self._emit(call, "payment_intent.succeeded", intent)
        return self.expanded(call, intent)

    def list_intents(self, call: _Call, _: str) -> Obj:
        items = call.account.of_kind("payment_intent")
        if call.params.get("customer"):
            items = [i for i in items if i["customer"] == call.params["customer"]]
        return self.page(call, items, "/v1/payment_intents", "payment_intent")

    def intent(self, call: _Call, intent_id: str) -> Obj:
        found = call.account.objects.get(intent_id)
        if found is None or found["object"] != "payment_intent":
            raise missing("payment_intent", intent_id, "intent", 404)
        return found

    def payment_method(self, call: _Call, given: Any) -> str:
        """The id a PaymentIntent records for ``given``: a test id makes a new PaymentMethod
        (as Stripe does), an id made before is itself."""
        account = call.account
        if isinstance(given, str) and given in account.cards:
            return given
        card = TEST_PAYMENT_METHODS.get(given) if isinstance(given, str) else None
        if card is None:
            raise missing("PaymentMethod", str(given), "payment_method")
        method_id = new_id("pm")
        account.cards[method_id] = card
        account.objects[method_id] = {
            "id": method_id,
            "object": "payment_method",
            "allow_redisplay": "unspecified",
            "billing_details": {
                "address": dict.fromkeys(
                    ("city", "country", "line1", "line2", "postal_code", "state")
                ),
                "email": None,
                "name": None,
                "phone": None,
            },
            "card": card_details(card, method_id),
            "created": call.now,
            "customer": None,
            "livemode": False,
            "metadata": {},
            "type": "card",
        }
        return method_id

    def check_return_url(self, account: Account, intent: Obj, params: Obj) -> None:
        automatic = intent["automatic_payment_methods"]
        if params.get("return_url"):
            account.return_urls[intent["id"]] = params["return_url"]
        if (
            automatic
            and automatic["enabled"]
            and automatic["allow_redirects"] != "never"
            and intent["id"] not in account.return_urls
        ):
            raise Refusal(
                400,
                "This PaymentIntent is configured to accept payment methods enabled in your "
                "Dashboard, because some of these payment methods might redirect your customer "
                "off of your page, you must provide a `return_url`. If you don't want to accept "
                "redirect-based payment methods, set `automatic_payment_methods[enabled]` to "
                "`true` and `automatic_payment_methods[allow_redirects]` to `never` when "
                "creating Setup Intents and Payment Intents.",
                param="return_url",
            )

    def _confirm(self, call: _Call, intent: Obj, params: Obj) -> None:
        if params.get("payment_method"):
            intent["payment_method"] = self.payment_method(call, params["payment_method"])
        if not intent["payment_method"]:
            raise unexpected_state(
                "You cannot confirm this PaymentIntent because it's missing a payment method. "
                "You can either update the PaymentIntent with a payment method and then confirm "
                "it again, or confirm it again directly with a payment method.",
                intent,
            )
        for name in ("receipt_email", "setup_future_usage"):
            if params.get(name):
                intent[name] = params[name]
        off_session = boolean(params, "off_session") or boolean(params, "error_on_requires_action")
        self._charge(call, intent, intent["payment_method"], off_session=off_session)

    def _charge(
        self,
        call: _Call,
        intent: Obj,
        method_id: str,
        *,
        authenticated: bool = False,
        off_session: bool = False,
    ) -> None:
        """Charge ``intent`` with a payment method, as its test card says."""
        card = call.account.cards[method_id]
        if card.authentication and not authenticated:
            if off_session:
                charge = self._new_charge(call, intent)
                self._fail_payment(call, intent, charge, AUTHENTICATION_REQUIRED)
                return
            intent["status"] = "requires_action"
            intent["next_action"] = {
                "type": "use_stripe_sdk",
                "use_stripe_sdk": {
                    "type": "three_d_secure_redirect",
                    "stripe_js": f"https://hooks.stripe.com/3d_secure_2/hosted?{intent['id']}",
                },
            }
            self._emit(call, "payment_intent.requires_action", intent)
            return
        charge = self._new_charge(call, intent)
        if card.decline is not None:
            self._fail_payment(call, intent, charge, card.decline)
            return
        if self._settle_later > 0:
            self._settle_later -= 1
            charge["status"] = "pending"
            intent.update(status="processing", processing={"type": "card"})
            self._emit(call, "charge.pending", charge)
            self._emit(call, "payment_intent.processing", intent)
            return
        self._succeed_payment(call, intent, charge)

    def _new_charge(self, call: _Call, intent: Obj) -> Obj:
        method_id = intent["payment_method"]
        card = call.account.cards[method_id]
        charge_id = new_id("ch")
        charge: Obj = {
            "id": charge_id,
            "object": "charge",
            "amount": intent["amount"],
            "amount_captured": 0,
            "amount_refunded": 0,
            "balance_transaction": None,
            "billing_details": call.account.objects[method_id]["billing_details"],
            "calculated_statement_descriptor": "KRALIKI",
            "captured": False,
            "created": call.now,
            "currency": intent["currency"],
            "customer": intent["customer"],
            "description": intent["description"],
            "disputed": False,
            "failure_code": None,
            "failure_message": None,
            "livemode": False,
            "metadata": dict(intent["metadata"]),
            "outcome": None,
            "paid": False,
            "payment_intent": intent["id"],
            "payment_method": method_id,
            "payment_method_details": {
                "card": card_details(card, method_id) | {"network": card.brand},
                "type": "card",
            },
            "receipt_email": intent["receipt_email"],
            "receipt_url": f"https://pay.stripe.com/receipts/payment/{charge_id}",
            "refunded": False,
            "status": "pending",
        }
        call.account.objects[charge_id] = charge
        intent["latest_charge"] = charge_id
        return charge

    def _succeed_payment(self, call: _Call, intent: Obj, charge: Obj) -> None:
        manual = intent["capture_method"] == "manual"
        charge.update(
            status="succeeded",
            paid=True,
            captured=not manual,
            amount_captured=0 if manual else charge["amount"],
            balance_transaction=None if manual else new_id("txn"),
            outcome={
                "network_status": "approved_by_network",
                "reason": None,
                "risk_level": "normal",
                "risk_score": 32,
                "seller_message": "Payment complete.",
                "type": "authorized",
            },
        )
        intent.update(last_payment_error=None, next_action=None, processing=None)
        self._emit(call, "charge.succeeded", charge)
        if manual:
            intent.update(status="requires_capture", amount_capturable=intent["amount"])
            self._emit(call, "payment_intent.amount_capturable_updated", intent)
        else:
            intent.update(status="succeeded", amount_received=intent["amount"])
            self._emit(call, "payment_intent.succeeded", intent)

    def _fail_payment(self, call: _Call, intent: Obj, charge: Obj, decline: Decline) -> None:
        """Decline ``charge``: the PaymentIntent goes back to ``requires_payment_method``;
        when a request is confirming it, the request answers Stripe's 402."""
        method_id = intent["payment_method"]
        charge.update(
            status="failed",
            failure_code=decline.code,
            failure_message=decline.message,
            outcome={
                "network_status": "declined_by_network",
                "reason": decline.decline_code,
                "risk_level": "normal",
                "risk_score": 32,
                "seller_message": "The bank did not return any further details with this decline.",
                "type": "issuer_declined",
            },
        )
        error: Obj = {
            "charge": charge["id"],
            "code": decline.code,
            "doc_url": f"https://stripe.com/docs/error-codes/{decline.code.replace('_', '-')}",
            "message": decline.message,
            "payment_method": copy.deepcopy(call.account.objects[method_id]),
            "type": "card_error",
        }
        if decline.decline_code is not None:
            error["decline_code"] = decline.decline_code
        if decline.param is not None:
            error["param"] = decline.param
        intent.update(
            status="requires_payment_method",
            last_payment_error=error,
            payment_method=None,
            next_action=None,
            processing=None,
        )
        self._emit(call, "charge.failed", charge)
        self._emit(call, "payment_intent.payment_failed", intent)
        if call.request_id:
            raise Refusal(
                402,
                decline.message,
                kind="card_error",
                code=decline.code,
                param=decline.param,
                decline_code=decline.decline_code,
                extra={
                    "charge": charge["id"],
                    "payment_intent": self.expanded(call, intent, expand=False),
                    "payment_method": error["payment_method"],
                },
            )

    def _authentication_failed(self, call: _Call, intent: Obj) -> None:
        message = (
            "We are unable to authenticate your payment method. Please choose a different "
            "payment method and try again."
        )
        intent.update(
            status="requires_payment_method",
            next_action=None,
            payment_method=None,
            last_payment_error={
                "code": "payment_intent_authentication_failure",
                "doc_url": "https://stripe.com/docs/error-codes/"
                "payment-intent-authentication-failure",
                "message": message,
                "payment_method": copy.deepcopy(call.account.objects[intent["payment_method"]]),
                "type": "invalid_request_error",
            },
        )
        self._emit(call, "payment_intent.payment_failed", intent)

    # --- refunds --------------------------------------------------------------------------

    def create_refund(self, call: _Call, _: str) -> Obj:
        params, account = call.params, call.account
        intent_id, charge_id = str(params.get("payment_intent", "")), str(params.get("charge", ""))
        if not intent_id and not charge_id:
            raise Refusal(
                400,
                "One of the following params should be provided for this request: "
                "payment_intent or charge.",
                code="parameter_missing",
            )
        if intent_id:
            intent = account.objects.get(intent_id)
            if intent is None or intent["object"] != "payment_intent":
                raise missing("payment_intent", intent_id, "payment_intent")
            charge = account.objects.get(intent["latest_charge"] or "")
            if intent["status"] != "succeeded" or charge is None:
                raise Refusal(
                    400,
                    f"This PaymentIntent ({intent_id}) does not have a successful charge to "
                    "refund.",
                    param="payment_intent",
                )
        else:
            charge = account.objects.get(charge_id)
            if charge is None or charge["object"] != "charge":
                raise missing("charge", charge_id, "charge")
        if charge["status"] != "succeeded" or not charge["captured"]:
            raise Refusal(
                400,
                f"Charge {charge['id']} has not been captured or did not succeed.",
                code="charge_not_refundable",
            )
        remaining = charge["amount"] - charge["amount_refunded"]
        if remaining <= 0:
            raise Refusal(
                400,
                f"Charge {charge['id']} has already been refunded.",
                code="charge_already_refunded",
            )
        amount = amount_of(params, "amount")
        if amount is None:
            amount = remaining
        if amount > remaining:
            raise Refusal(
                400,
                f"Refund amount ({money(amount, charge['currency'])}) is greater than unrefunded "
                f"amount on charge ({money(remaining, charge['currency'])})",
                code="amount_too_large",
                param="amount",
            )
        reason = params.get("reason")
        if reason is not None and reason not in (
            "duplicate",
            "fraudulent",
            "requested_by_customer",
        ):
            raise Refusal(
                400,
                "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer",
                param="reason",
            )
        card = account.cards.get(charge["payment_method"])
        first = "pending" if card is not None and card.refunds == "pending" else "succeeded"
        refund_id = new_id("re")
        refund: Obj = {
            "id": refund_id,
            "object": "refund",
            "amount": amount,
            "balance_transaction": new_id("txn"),
            "charge": charge["id"],
            "created": call.now,
            "currency": charge["currency"],
            "destination_details": {
                "card": {
                    "reference_status": "pending",
                    "reference_type": "acquirer_reference_number",
                    "type": "refund",
                },
                "type": "card",
            },
            "metadata": metadata_of(params.get("metadata"), {}),
            "payment_intent": charge["payment_intent"],
            "reason": reason,
            "receipt_number": None,
            "source_transfer_reversal": None,
            "status": first,
            "transfer_reversal": None,
        }
        account.objects[refund_id] = refund
        previous = {"amount_refunded": charge["amount_refunded"], "refunded": charge["refunded"]}
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        self._emit(call, "refund.created", refund)
        self._emit(call, "charge.refunded", charge, previous)
        return self.expanded(call, refund)

    def _settle_refund(self, call: _Call, refund: Obj, *, succeed: bool) -> None:
        previous = {"status": refund["status"]}
        charge = call.account.objects[refund["charge"]]
        if succeed:
            refund["status"] = "succeeded"
        else:
            refund.update(
                status="failed",
                failure_reason="expired_or_canceled_card",
                failure_balance_transaction=new_id("txn"),
            )
            charge["amount_refunded"] -= refund["amount"]
            charge["refunded"] = False
        self._emit(call, "refund.updated", refund, previous)
        self._emit(call, "charge.refund.updated", refund, previous)
        if not succeed:
            self._emit(call, "refund.failed", refund, previous)

    def list_refunds(self, call: _Call, _: str) -> Obj:
        items = call.account.of_kind("refund")
        for name in ("payment_intent", "charge"):
            if call.params.get(name):
                items = [r for r in items if r[name] == call.params[name]]
        return self.page(call, items, "/v1/refunds", "refund")

    def list_charges(self, call: _Call, _: str) -> Obj:
        items = call.account.of_kind("charge")
        for name in ("payment_intent", "customer", "transfer_group"):
            if call.params.get(name):
                items = [c for c in items if c.get(name) == call.params[name]]
        return self.page(call, items, "/v1/charges", "charge")

    def retrieve(self, kind: str, param: str) -> Handler:
        def handler(call: _Call, object_id: str) -> Obj:
            found = call.account.objects.get(object_id)
            if found is None or found["object"] != kind:
                raise missing(kind, object_id, param, 404)
            return self.expanded(call, found)

        return handler

    # --- events, balance, account ---------------------------------------------------------

    def list_events(self, call: _Call, _: str) -> Obj:
        items = list(call.account.events)
        kinds = call.params.get("types") or (
            [call.params["type"]] if call.params.get("type") else None
        )
        if kinds:
            patterns = [re.compile(re.escape(k).replace(r"\*", ".*") + "$") for k in kinds]
            items = [e for e in items if any(p.match(e["type"]) for p in patterns)]
        return self.page(call, items, "/v1/events", "event")

    def retrieve_event(self, call: _Call, event_id: str) -> Obj:
        for event in call.account.events:
            if event["id"] == event_id:
                return event
        raise missing("event", event_id, "id", 404)

    def balance(self, call: _Call, _: str) -> Obj:
        net: dict[str, int] = {}
        for charge in call.account.of_kind("charge"):
            if charge["captured"] and charge["status"] == "succeeded":
                net[charge["currency"]] = net.get(charge["currency"], 0) + charge["amount_captured"]
        for refund in call.account.of_kind("refund"):
            if refund["status"] in ("pending", "succeeded"):
                net[refund["currency"]] = net.get(refund["currency"], 0) - refund["amount"]
        net = net or {call.account.default_currency: 0}

        def funds(amounts: Mapping[str, int]) -> list[Obj]:
            return [
                {"amount": a, "currency": c, "source_types": {"card": a}}
                for c, a in sorted(amounts.items())
            ]

        return {
            "object": "balance",
            "available": funds(net),
            "livemode": False,
            "pending": funds(dict.fromkeys(net, 0)),
        }

    def retrieve_account(self, call: _Call, _: str) -> Obj:
        account = call.account
        return {
            "id": account.id,
            "object": "account",
            "business_profile": {"name": account.display_name, "support_email": None},
            "business_type": "company",
            "capabilities": {"card_payments": "active", "transfers": "active"},
            "charges_enabled": True,
            "country": account.country,
            "created": call.now,
            "default_currency": account.default_currency,
            "details_submitted": True,
            "email": None,
            "payouts_enabled": True,
            "settings": {"dashboard": {"display_name": account.display_name}},
            "type": "standard",
        }

    # --- lists and expansion --------------------------------------------------------------

    def page(self, call: _Call, items: list[Obj], url: str, kind: str) -> Obj:
        """One page of a Stripe list: newest first, ``limit`` (1-100, default 10), after
        ``starting_after`` or before ``ending_before``, within ``created``."""
        params = call.params
        limit = amount_of(params, "limit")
        limit = 10 if limit is None else limit
        if not 1 <= limit <= 100:
            raise Refusal(
                400,
                f"This value must be between 1 and 100 (it currently is '{limit}').",
                param="limit",
            )
        created = params.get("created")
        bounds = created if isinstance(created, dict) else None
        exact = int_of(created, "created") if created is not None and bounds is None else None
        ordered = sorted(reversed(items), key=lambda o: -int(o["created"]))
        chosen = [
            o for o in ordered if in_range(o["created"], bounds) and exact in (None, o["created"])
        ]
        after, before = params.get("starting_after"), params.get("ending_before")
        if after:
            start = position(chosen, after, kind, "starting_after") + 1
            window = chosen[start : start + limit]
            has_more = start + limit < len(chosen)
        elif before:
            end = position(chosen, before, kind, "ending_before")
            window = chosen[max(end - limit, 0) : end]
            has_more = end - limit > 0
        else:
            window, has_more = chosen[:limit], len(chosen) > limit
        expand = []
        for path in expansions(params):
            if not path.startswith("data."):
                raise Refusal(400, f"This property cannot be expanded ({path}).", param="expand")
            expand.append(path[5:])
        data = [self.expanded(call, o, paths=expand) for o in window]
        return {"object": "list", "data": data, "has_more": has_more, "url": url}

    def expanded(
        self, call: _Call, obj: Obj, *, expand: bool = True, paths: list[str] | None = None
    ) -> Obj:
        """``obj`` as answered: a copy, with the ids that ``expand`` names replaced by their
        objects."""
        public = copy.deepcopy(obj)
        if not expand:
            return public
        for path in expansions(call.params) if paths is None else paths:
            self._expand(call, public, path.split("."), path)
        return public

    def _expand(self, call: _Call, obj: Obj, path: list[str], whole: str) -> None:
        name, rest = path[0], path[1:]
        if name not in EXPANDABLE.get(obj.get("object", ""), ()) or name not in obj:
            raise Refusal(400, f"This property cannot be expanded ({whole}).", param="expand")
        value = obj[name]
        if isinstance(value, str):
            target = call.account.objects.get(value)
            if target is not None:
                obj[name] = value = self.expanded(call, target, expand=False)
        if rest and isinstance(value, dict):
            self._expand(call, value, rest, whole)


# --- helpers -----------------------------------------------------------------------------


async def read_params(request: Request) -> Obj:
    if request.method == "POST":
        raw = await request.body()
        content_type = request.headers.get("content-type", "")
        if not raw or not content_type.startswith("application/x-www-form-urlencoded"):
            return {}
        pairs = parse_qsl(raw.decode(errors="replace"), keep_blank_values=True)
    else:
        pairs = parse_qsl(request.url.query, keep_blank_values=True)
    return decode_form(pairs)


def api_key_of(authorization: str) -> str | None:
    scheme, _, credential = authorization.partition(" ")
    if scheme.lower() == "bearer" and credential:
        return credential.strip()
    if scheme.lower() == "basic" and credential:
        with contextlib.suppress(binascii.Error, UnicodeDecodeError):
            return base64.b64decode(credential).decode().partition(":")[0] or None
    return None


def answer(refusal: Refusal, request_id: str, now: int, headers: Mapping[str, str]) -> Response:
    return json_answer(
        refusal.status, refusal.body(request_id, now), dict(headers) | refusal.headers
    )


def json_answer(status: int, body: Obj, headers: Mapping[str, str]) -> Response:
    return Response(
        json.dumps(body, indent=2),
        status_code=status,
        media_type="application/json",
        headers=dict(headers),
    )


def unrecognized(method: str, path: str) -> Refusal:
    return Refusal(
        404,
        f"Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or "
        "we can help at https://support.stripe.com/.",
    )


def fault_refusal(fault: Fault, key: str | None) -> Refusal:
    status = fault.status
    headers = {}
    if fault.should_retry is not None:
        headers["Stripe-Should-Retry"] = "true" if fault.should_retry else "false"
    kind, code, message, decline = "invalid_request_error", fault.code, fault.message, None
    if status == 401:
        message = message or f"Invalid API Key provided: {mask(key or 'sk_test_none')}"
    elif status == 402:
        kind, code = "card_error", code or "card_declined"
        decline = fault.decline_code or "generic_decline"
        message = message or "Your card was declined."
    elif status == 403:
        message = message or (
            "The provided key does not have the required permissions for this endpoint."
        )
    elif status == 404:
        code = code or "resource_missing"
        message = message or "No such object."
    elif status == 409:
        kind, code = "idempotency_error", code or "idempotency_key_in_use"
        message = message or (
            "There is currently another in-progress request using this Stripe-Account/"
            "Idempotency-Key combination. Please try again later."
        )
    elif status == 429:
        code = code or "rate_limit"
        message = message or (
            "Request rate limit exceeded. Learn more about rate limits here "
            "https://stripe.com/docs/rate-limits."
        )
    elif status >= 500:
        kind = "api_error"
        message = message or (
            "Sorry, something went wrong. We've already been notified of the problem, but if "
            "you need any help, you can reach us at support.stripe.com/contact."
        )
    return Refusal(
        status,
        message or "Invalid request.",
        kind=kind,
        code=code,
        decline_code=decline,
        headers=headers,
    )


def confirm_refusal(intent: Obj) -> str:
    status = intent["status"]
    if status == "succeeded":
        return (
            "You cannot confirm this PaymentIntent because it has already succeeded after "
            "being previously confirmed."
        )
    if status == "canceled":
        return (
            "You cannot confirm this PaymentIntent because it has a status of canceled. Only a "
            "PaymentIntent with one of the following statuses may be confirmed: "
            "requires_confirmation, requires_payment_method, requires_action."
        )
    return (
        f"This PaymentIntent's status is {status}, so it cannot be confirmed. Only a "
        "PaymentIntent with one of the following statuses may be confirmed: "
        "requires_confirmation, requires_payment_method, requires_action."
    )


def card_details(card: Card, method_id: str) -> Obj:
    return {
        "brand": card.brand,
        "checks": {
            "address_line1_check": None,
            "address_postal_code_check": None,
            "cvc_check": "pass",
        },
        "country": "US",
        "display_brand": card.brand,
        "exp_month": 12,
        "exp_year": time.gmtime().tm_year + 3,
        "fingerprint": hashlib.sha256(method_id.encode()).hexdigest()[:16],
        "funding": card.funding,
        "last4": card.last4,
        "networks": {"available": [card.brand], "preferred": None},
        "wallet": None,
    }


def int_of(value: Any, param: str) -> int:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
        return int(value)
    raise Refusal(400, f"Invalid integer: {value}", code="parameter_invalid_integer", param=param)


def amount_of(params: Obj, name: str, *, required: bool = False) -> int | None:
    if name not in params:
        if required:
            raise Refusal(
                400, f"Missing required param: {name}.", code="parameter_missing", param=name
            )
        return None
    value = int_of(params[name], name)
    if value < 0 or (value == 0 and name != "limit"):
        raise Refusal(
            400,
            "This value must be greater than or equal to 1.",
            code="parameter_invalid_integer",
            param=name,
        )
    return value


def currency_of(params: Obj, *, required: bool = False) -> str | None:
    if "currency" not in params:
        if required:
            raise Refusal(
                400,
                "Missing required param: currency.",
                code="parameter_missing",
                param="currency",
            )
        return None
    currency = str(params["currency"]).lower()
    if currency not in CURRENCIES:
        raise Refusal(
            400,
            f"Invalid currency: {currency}. Stripe currently supports these currencies: "
            f"{', '.join(sorted(CURRENCIES))}",
            param="currency",
        )
    return currency


def check_amount(amount: int, currency: str) -> None:
    minimum = MINIMUM_AMOUNT.get(currency, 1)
    if amount < minimum:
        raise Refusal(
            400,
            f"Amount must be at least {money(minimum, currency)} {currency}",
            code="amount_too_small",
            param="amount",
        )
    if amount > MAXIMUM_AMOUNT:
        raise Refusal(
            400,
            f"Amount must be no more than {money(MAXIMUM_AMOUNT, currency)}",
            code="amount_too_large",
            param="amount",
        )


def boolean(params: Obj, name: str, param: str | None = None) -> bool:
    value = params.get(name)
    if value is None or value in ("", "false"):
        return False
    if value == "true":
        return True
    raise Refusal(
        400,
        f"Invalid boolean: {value}",
        code="parameter_invalid_boolean",
        param=param or name,
    )


def metadata_of(given: Any, current: Obj) -> Obj:
    """Stripe's metadata update: keys merge, an empty value removes its key, an empty
    ``metadata`` removes them all; at most 50 keys of 40 characters, values of 500."""
    if given is None:
        return dict(current)
    if given == "":
        return {}
    if not isinstance(given, dict):
        raise Refusal(400, "Invalid hash", param="metadata")
    merged = dict(current)
    for key, value in given.items():
        if len(key) > 40:
            raise Refusal(
                400,
                f"Metadata keys can have up to 40 characters, but you passed in a key that is "
                f"{len(key)} characters long.",
                param=f"metadata[{key}]",
            )
        if not isinstance(value, str):
            raise Refusal(400, "Invalid string: a hash", param=f"metadata[{key}]")
        if len(value) > 500:
            raise Refusal(
                400,
                "Metadata values can have up to 500 characters, but you passed in a value that "
                f"is {len(value)} characters long.",
                param=f"metadata[{key}]",
            )
        if value == "":
            merged.pop(key, None)
        else:
            merged[key] = value
    if len(merged) > 50:
        raise Refusal(400, "You can have at most 50 keys in metadata.", param="metadata")
    return merged


def expansions(params: Obj) -> list[str]:
    given = params.get("expand")
    if given is None:
        return []
    return [given] if isinstance(given, str) else [str(path) for path in given]


def in_range(created: int, bounds: Obj | None) -> bool:
    if bounds is None:
        return True
    checks: dict[str, Callable[[int, int], bool]] = {
        "gt": lambda a, b: a > b,
        "gte": lambda a, b: a >= b,
        "lt": lambda a, b: a < b,
        "lte": lambda a, b: a <= b,
    }
    for name, value in bounds.items():
        if name not in checks:
            raise Refusal(
                400,
                f"Received unknown parameter: created[{name}]",
                code="parameter_unknown",
                param=f"created[{name}]",
            )
        if not checks[name](created, int_of(value, f"created[{name}]")):
            return False
    return True


def position(items: list[Obj], object_id: str, kind: str, param: str) -> int:
    for index, item in enumerate(items):
        if item["id"] == object_id:
            return index
    raise missing(kind, object_id, param)
