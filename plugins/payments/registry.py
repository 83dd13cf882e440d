"""The processors contributed through ``kraliki_payment_processors``, per platform."""

from __future__ import annotations

import uuid

from kernel import Platform, Principal, StateKey, UniqueRegistry
from plugins.payments.processor import PaymentProcessor, ProcessorContext, ProcessorSpec

PROCESSORS = StateKey[UniqueRegistry[ProcessorSpec]]("payments")


def configure(platform: Platform) -> None:
    registry = UniqueRegistry[ProcessorSpec]("payment processor")
    for plugin, specs in platform.hooks.collect_now("kraliki_payment_processors"):
        for spec in specs:
            registry.register(spec.name, spec, plugin=plugin)
    PROCESSORS.set(platform, registry)


def processor_specs(platform: Platform) -> dict[str, ProcessorSpec]:
    registry = PROCESSORS.get(platform)
    return {name: registry.get(name) for name in registry}


def build_processor(
    platform: Platform,
    name: str,
    tenant_id: uuid.UUID,
    *,
    principal: Principal | None = None,
    job: str | None = None,
) -> PaymentProcessor | None:
    spec = processor_specs(platform).get(name)
    if spec is None:
        return None
    return spec.factory(ProcessorContext(platform, tenant_id, principal, job))
