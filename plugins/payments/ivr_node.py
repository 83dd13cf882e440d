"""The IVR node type ``payments.pay``: the caller keys their card into the telephony
provider's secure capture (Twilio ``<Pay>``, Telnyx's pay command), whose payment connector
charges it at the organization's processor; the platform hears only the outcome.

Exits ``succeeded``, ``failed``, ``cancelled`` (optional: else ``failed``) and
``unavailable`` (a provider without secure capture, such as loopback: the caller was asked
nothing). On a real call the node's effect records the payment in the ledger (capture path
``ivr``, the connector's confirmation as the processor's id), whatever the outcome; the
simulator lists the effect and writes nothing.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import Field, model_validator

from plugins.calls import Capability, Pay, PaymentCapture
from plugins.ivr import (
    CallerInput,
    Effect,
    EffectScope,
    ExitSpec,
    Go,
    NodeConfig,
    NodeContext,
    NodeResult,
    NodeType,
    Template,
    Wait,
)
from plugins.payments.currencies import major, minor_digits, normalize

NODE_TYPE = "payments.pay"
EXITS = ExitSpec(
    required=frozenset({"succeeded", "failed", "unavailable"}),
    optional=frozenset({"cancelled"}),
)
VARIABLE = r"^[A-Za-z][A-Za-z0-9_]{0,63}$"
MAX_AMOUNT = 99_999_999


class PayConfig(NodeConfig):
    type: Literal["payments.pay"] = "payments.pay"
    amount: int | None = Field(
        default=None, gt=0, le=MAX_AMOUNT, description="A fixed amount, in minor units."
    )
    amount_variable: str | None = Field(
        default=None,
        pattern=VARIABLE,
        description="The flow variable holding the amount in minor units (a lookup's answer).",
    )
    currency: str = Field(default="usd", min_length=3, max_length=3)
    description: Template = Field(default="", max_length=200)
    say: Template | None = Field(
        default=None, max_length=500, description="Said before the capture starts."
    )
    audio_url: Template | None = Field(default=None, max_length=2000)
    connector: str = Field(
        default="Default",
        pattern=r"^[A-Za-z0-9_\-. ]{1,64}$",
        description="The provider's payment connector (set up in its console with the "
        "organization's processor).",
    )
    timeout_seconds: int = Field(default=10, ge=3, le=60)
    max_attempts: int = Field(default=3, ge=1, le=5)

    @model_validator(mode="after")
    def _one_amount(self) -> PayConfig:
        if (self.amount is None) == (self.amount_variable is None):
            raise ValueError("give exactly one of amount and amount_variable")
        code = normalize(self.currency)
        if code is None or minor_digits(code) > 2:
            raise ValueError("currency must be an ISO 4217 code with at most two decimals")
        return self


@dataclass(frozen=True, slots=True)
class RecordCapture(Effect):
    kind = "payments.capture"

    amount: int
    currency: str
    description: str
    status: str
    provider_result: str
    confirmation: str | None
    error: str | None

    def describe(self) -> Mapping[str, Any]:
        return {
            "amount": self.amount,
            "currency": self.currency,
            "status": self.status,
            "result": self.provider_result,
        }

    async def perform(self, scope: EffectScope) -> Mapping[str, Any] | None:
        from plugins.payments.service import record_capture

        payment, new = await record_capture(
            scope.platform,
            scope.session,
            call_id=scope.call_id,
            amount=self.amount,
            currency=self.currency,
            description=self.description,
            status=self.status,
            provider_result=self.provider_result,
            confirmation=self.confirmation,
            error=self.error,
            metadata={"ivr_flow_id": str(scope.flow_id), "ivr_node": scope.node},
        )
        return {"payment_id": str(payment.id), "status": payment.status, "recorded": new}


def _amount(ctx: NodeContext, config: PayConfig) -> int | None:
    if config.amount is not None:
        return config.amount
    value = ctx.variables.get(config.amount_variable or "")
    if isinstance(value, bool):
        return None
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int) and 0 < value <= MAX_AMOUNT:
        return value
    return None


class PayNode(NodeType):
    name = NODE_TYPE
    config = PayConfig
    description = (
        "Take a card payment: the caller keys the card into the provider's secure capture, "
        "its connector charges it; the ledger records the outcome. Exits `succeeded`, "
        "`failed`, `cancelled` (optional) and `unavailable` (no secure capture on this "
        "provider). Sets the variable `payment_status`."
    )
    waits = True

    def exits(self, config: Any) -> ExitSpec:
        return EXITS

    async def enter(self, ctx: NodeContext, config: PayConfig) -> NodeResult:
        if Capability.SECURE_PAYMENTS not in ctx.call.capabilities:
            ctx.variables["payment_status"] = "unavailable"
            provider = ctx.call.provider or "this provider"
            return Go("unavailable", detail={"reason": f"{provider} has no secure payment capture"})
        amount = _amount(ctx, config)
        currency = normalize(config.currency) or "usd"
        if amount is None:
            ctx.variables["payment_status"] = "failed"
            return Go("failed", detail={"reason": f"no amount in {config.amount_variable!r}"})
        step = Pay(
            amount=major(amount, currency),
            currency=currency,
            connector=config.connector,
            description=ctx.render(config.description) or None,
            timeout_seconds=config.timeout_seconds,
            max_attempts=config.max_attempts,
        )
        return Wait(
            step=step,
            prompts=ctx.prompt(config.say, config.audio_url),
            detail={"amount": amount, "currency": currency},
        )

    async def resume(self, ctx: NodeContext, config: PayConfig, got: CallerInput) -> NodeResult:
        capture = got.payment or PaymentCapture(status="failed", result="no-result")
        amount = _amount(ctx, config) or 0
        currency = normalize(config.currency) or "usd"
        ctx.variables["payment_status"] = capture.status
        if amount:
            ctx.act(
                RecordCapture(
                    amount=amount,
                    currency=currency,
                    description=ctx.render(config.description),
                    status=capture.status,
                    provider_result=capture.result,
                    confirmation=capture.confirmation,
                    error=capture.error,
                )
            )
        exit_name = capture.status
        if exit_name == "cancelled" and "cancelled" not in config.exits:
            exit_name = "failed"
        return Go(exit_name, detail={"result": capture.result, "amount": amount})
