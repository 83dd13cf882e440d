"""The gateway end to end with two test model providers: routing per task, the tenant's
instructions, keys from the vault, fallback (no key, failure, open breaker, invalid output),
redaction of what leaves, prompt logging, streaming and embeddings."""

from __future__ import annotations

import logging

import pytest
from ai_helpers import Verdict, generate, put_settings, store_key

from kernel import tenant_scope
from plugins.ai import NoEmbeddingsError, complete, embed, stream

CARD = "4111 1111 1111 1111"


async def test_without_settings_the_offline_provider_answers(client, owner, alpha):
    answer = await generate(client, owner, "Write me a poem")
    assert answer["provider"] == "offline"
    assert answer["model"] == "offline"
    assert answer["fallbacks"] == []
    assert "offline model does not write free text" in answer["text"]
    assert alpha.received == []


async def test_a_routed_task_goes_to_its_provider_with_the_key_and_instructions(
    client, owner, alpha, beta
):
    key = await store_key(client, owner, "alpha")
    await put_settings(
        client,
        owner,
        routes={"generate": {"provider": "alpha", "model": "alpha-small"}},
        instructions="Say Widget, never gadget.",
    )
    answer = await generate(client, owner, "Hello", system="Be brief.")
    assert answer["provider"] == "alpha"
    assert answer["model"] == "alpha-small"
    assert answer["text"] == "a fake answer"
    assert answer["usage"] == {"input_tokens": 1000, "output_tokens": 500}
    sent = alpha.received[-1]
    assert sent.task == "generate"
    assert sent.model == "alpha-small"
    assert sent.system == "Say Widget, never gadget.\n\nBe brief."
    assert [m.content for m in sent.messages] == ["Hello"]
    assert alpha.keys == [key]
    assert beta.received == []


async def test_no_key_falls_back_along_the_order_and_says_so(client, owner, alpha, beta):
    await store_key(client, owner, "beta")
    await put_settings(client, owner, routes={"generate": {"provider": "alpha"}}, fallback=["beta"])
    answer = await generate(client, owner, "Hello")
    assert answer["provider"] == "beta"
    assert answer["model"] == "beta-large"
    assert answer["fallbacks"] == [
        {"provider": "alpha", "reason": "no_key", "detail": "store alpha.api_key in the vault"}
    ]
    assert alpha.received == []


async def test_failures_open_the_breaker_and_the_gateway_falls_back(client, owner, alpha, beta):
    await store_key(client, owner, "alpha")
    await store_key(client, owner, "beta")
    await put_settings(client, owner, routes={"generate": {"provider": "alpha"}}, fallback=["beta"])
    alpha.mode = "down"
    for _ in range(2):  # the breaker opens after two transient failures (conftest)
        answer = await generate(client, owner, "Hello")
        assert answer["provider"] == "beta"
        assert [(f["provider"], f["reason"]) for f in answer["fallbacks"]] == [("alpha", "failed")]
        assert answer["fallbacks"][0]["detail"] == "UpstreamDown"
    asked = len(alpha.received)
    answer = await generate(client, owner, "Hello")
    assert answer["provider"] == "beta"
    assert answer["fallbacks"] == [{"provider": "alpha", "reason": "breaker_open", "detail": ""}]
    assert len(alpha.received) == asked  # an open breaker calls nothing


async def test_every_provider_failing_ends_with_offline(client, owner, alpha, beta):
    await store_key(client, owner, "alpha")
    await store_key(client, owner, "beta")
    await put_settings(
        client, owner, routes={"generate": {"provider": "alpha"}}, fallback=["beta", "alpha"]
    )
    alpha.mode = "refuse"
    beta.mode = "down"
    answer = await generate(client, owner, "Hello")
    assert answer["provider"] == "offline"
    assert [(f["provider"], f["reason"], f["detail"]) for f in answer["fallbacks"]] == [
        ("alpha", "failed", "UpstreamRefused"),
        ("beta", "failed", "UpstreamDown"),
    ]


async def test_structured_output_is_validated_and_an_invalid_answer_falls_back(
    client, platform, owner, alpha
):
    await store_key(client, owner, "alpha")
    await put_settings(client, owner, routes={"verdict": {"provider": "alpha"}})
    with tenant_scope(owner.tenant_id):
        answer = await complete(
            platform, plugin="asker", task="verdict", prompt="I love it", output=Verdict
        )
        assert answer.provider == "alpha"
        assert answer.parsed == Verdict(label="positive", score=0.9)
        assert alpha.received[-1].output_schema == Verdict.model_json_schema()
        assert alpha.received[-1].output_name == "Verdict"
        alpha.answer = "not json at all"
        answer = await complete(
            platform, plugin="asker", task="verdict", prompt="I love it", output=Verdict
        )
    assert answer.provider == "offline"
    assert answer.parsed == Verdict(label="neutral", score=0)
    assert [(f.provider, f.reason, f.detail) for f in answer.fallbacks] == [
        ("alpha", "failed", "invalid_output")
    ]
    assert answer.fell_back


async def test_an_undeclared_task_is_a_programming_error(platform, owner):
    with tenant_scope(owner.tenant_id), pytest.raises(ValueError, match="undeclared AI task"):
        await complete(platform, plugin="asker", task="nosuch", prompt="x")


async def test_a_card_number_never_reaches_the_provider(client, owner, alpha):
    await store_key(client, owner, "alpha")
    await put_settings(
        client,
        owner,
        routes={"generate": {"provider": "alpha"}},
        instructions=f"Test card {CARD} is ours.",
        redaction_patterns=[{"name": "order", "regex": r"ORD-\d{6}"}],
    )
    await generate(
        client,
        owner,
        f"My card is {CARD}, cvv 123, order ORD-123456, IBAN GB82 WEST 1234 5698 7654 32.",
        system="ssn 123-45-6789",
    )
    sent = alpha.received[-1]
    everything = (sent.system or "") + " ".join(m.content for m in sent.messages)
    for secret in (CARD, "4111", " 123,", "ORD-123456", "GB82", "123-45-6789"):
        assert secret not in everything
    assert sent.messages[0].content == ("My card is [card], cvv [cvv], order [order], IBAN [iban].")
    assert sent.system == "Test card [card] is ours.\n\nssn [ssn]"


async def test_redaction_off_sends_the_text_as_written(client, owner, alpha):
    await store_key(client, owner, "alpha")
    await put_settings(client, owner, routes={"generate": {"provider": "alpha"}}, redaction=False)
    await generate(client, owner, f"My card is {CARD}")
    assert alpha.received[-1].messages[0].content == f"My card is {CARD}"


async def test_prompts_are_not_logged_unless_the_tenant_enables_it(client, owner, alpha, caplog):
    await store_key(client, owner, "alpha")
    await put_settings(client, owner, routes={"generate": {"provider": "alpha"}})
    caplog.set_level(logging.INFO, logger="kraliki.ai")
    await generate(client, owner, f"secret plan zebra {CARD}")
    assert "ai answered: task=generate plugin=ai provider=alpha" in caplog.text
    assert "zebra" not in caplog.text
    assert "a fake answer" not in caplog.text
    caplog.clear()
    await put_settings(client, owner, routes={"generate": {"provider": "alpha"}}, log_prompts=True)
    await generate(client, owner, f"secret plan zebra {CARD}")
    assert "secret plan zebra [card]" in caplog.text
    assert "a fake answer" in caplog.text
    assert CARD not in caplog.text


async def test_the_answer_streams_and_says_who_wrote_it(client, platform, owner, alpha, beta):
    await store_key(client, owner, "beta")
    await put_settings(client, owner, routes={"generate": {"provider": "alpha"}}, fallback=["beta"])
    beta.answer = "one two three"
    with tenant_scope(owner.tenant_id):
        streamed = stream(platform, plugin="ai", task="generate", prompt=f"card {CARD}")
        pieces = [piece async for piece in streamed]
    assert "".join(pieces) == "one two three "
    assert streamed.answer is not None
    assert streamed.answer.provider == "beta"
    assert [(f.provider, f.reason) for f in streamed.answer.fallbacks] == [("alpha", "no_key")]
    assert beta.received[-1].messages[0].content == "card [card]"


async def test_the_offline_provider_streams_too(platform, owner):
    with tenant_scope(owner.tenant_id):
        streamed = stream(platform, plugin="ai", task="generate", prompt="hello")
        text = "".join([piece async for piece in streamed])
    assert "offline model" in text
    assert streamed.answer is not None
    assert streamed.answer.provider == "offline"


async def test_embeddings_come_from_a_provider_that_has_them(
    client, platform, owner, alpha, kraliki_spans
):
    await store_key(client, owner, "alpha")
    await store_key(client, owner, "beta")
    await put_settings(client, owner, routes={"generate": {"provider": "beta"}}, fallback=["alpha"])
    with tenant_scope(owner.tenant_id):
        vectors = await embed(platform, plugin="ai", task="generate", texts=["ab", f"x {CARD}"])
    assert vectors.provider == "alpha"
    assert vectors.model == "alpha-embed"
    assert vectors.vectors[0] == [2.0, 1.0, 0.0]
    assert [(f.provider, f.reason) for f in vectors.fallbacks] == [
        ("beta", "embeddings_unsupported")
    ]
    assert alpha.embedded[-1].inputs == ["ab", "x [card]"]
    [span] = [s for s in kraliki_spans.get_finished_spans() if s.name == "ai.embed"]
    assert dict(span.attributes or {})["ai.provider"] == "alpha"
    usage = await client.get(
        "/api/v1/ai/usage", headers=owner.headers, params={"group_by": "model"}
    )
    assert [(i["key"], i["requests"]) for i in usage.json()["items"]] == [("alpha/alpha-embed", 1)]


async def test_no_provider_with_embeddings_is_a_clear_error(client, platform, owner):
    await store_key(client, owner, "beta")
    await put_settings(client, owner, routes={"generate": {"provider": "beta"}})
    with tenant_scope(owner.tenant_id), pytest.raises(NoEmbeddingsError) as raised:
        await embed(platform, plugin="ai", task="generate", texts=["ab"])
    assert [(f.provider, f.reason) for f in raised.value.fallbacks] == [
        ("beta", "embeddings_unsupported"),
        ("offline", "embeddings_unsupported"),
    ]


async def test_each_answer_is_a_span_without_the_prompt(client, owner, alpha, kraliki_spans):
    await store_key(client, owner, "alpha")
    await put_settings(client, owner, routes={"generate": {"provider": "alpha"}})
    await generate(client, owner, "the secret prompt zebra")
    spans = [s for s in kraliki_spans.get_finished_spans() if s.name == "ai.complete"]
    assert len(spans) == 1
    attributes = dict(spans[0].attributes or {})
    assert attributes["ai.provider"] == "alpha"
    assert attributes["ai.task"] == "generate"
    assert attributes["ai.input_tokens"] == 1000
    assert attributes["ai.fell_back"] is False
    assert not any("zebra" in str(value) for value in attributes.values())
