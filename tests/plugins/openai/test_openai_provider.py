"""The OpenAI provider through the official SDK against the stand-in: chat, structured output,
streaming, embeddings, and how its failures are classified."""

from __future__ import annotations

import json
import math

import openai
import pytest
from model_provider_suite import (  # noqa: F401 (shared tests, run here)
    chat_request,
    complete_unreachable,
    test_a_wrong_key_through_the_resilience_helper_is_tried_once,
    test_no_stored_key_is_a_rejection,
    test_the_stand_in_answers_after_its_latency,
    test_unknown_errors_are_left_to_the_kernel,
)
from pydantic import BaseModel

from kernel import Platform, SecretValue, TransientError
from plugins.ai import (
    ChatDelta,
    ChatEnd,
    ChatMessage,
    ChatRequest,
    Credentials,
    EmbeddingRequest,
    Usage,
)
from plugins.openai.testing import DEFAULT_ANSWER


class Verdict(BaseModel):
    label: str
    score: float
    reasons: list[str]


class WithDefault(BaseModel):
    label: str
    note: str = ""


def ask(prompt: str = "How are you?", **fields: object) -> ChatRequest:
    return chat_request("gpt-4.1-mini", prompt, **fields)


async def test_complete_sends_the_system_message_and_reads_the_usage(
    provider, credentials, stand_in
):
    stand_in.answer("I am well, thank you.")
    result = await provider.complete(credentials, ask(max_output_tokens=50, temperature=0.2))
    assert result.text == "I am well, thank you."
    assert result.usage == Usage(input_tokens=7, output_tokens=7)  # words and signs
    assert (result.model, result.stop_reason) == ("gpt-4.1-mini", "stop")
    [request] = stand_in.requests
    assert (request.method, request.path, request.api_key) == (
        "POST",
        "/v1/chat/completions",
        stand_in.api_key,
    )
    assert request.body == {
        "model": "gpt-4.1-mini",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "How are you?"},
        ],
        "max_completion_tokens": 50,
        "temperature": 0.2,
    }


async def test_without_a_system_prompt_only_the_conversation_is_sent(
    provider, credentials, stand_in
):
    conversation = [
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello"),
        ChatMessage("user", "Bye"),
    ]
    result = await provider.complete(credentials, ask(system=None, messages=conversation))
    assert result.text == DEFAULT_ANSWER
    assert [m["role"] for m in stand_in.chat_bodies()[0]["messages"]] == [
        "user",
        "assistant",
        "user",
    ]


async def test_structured_output_is_strict_when_the_schema_allows(provider, credentials, stand_in):
    stand_in.answer({"label": "positive", "score": 0.9, "reasons": ["thanks"]})
    request = ask(output_schema=Verdict.model_json_schema(), output_name="Verdict")
    result = await provider.complete(credentials, request)
    assert Verdict.model_validate_json(result.text) == Verdict(
        label="positive", score=0.9, reasons=["thanks"]
    )
    response_format = stand_in.chat_bodies()[0]["response_format"]
    assert response_format["type"] == "json_schema"
    spec = response_format["json_schema"]
    assert (spec["name"], spec["strict"]) == ("Verdict", True)
    assert spec["schema"]["additionalProperties"] is False
    assert spec["schema"]["required"] == ["label", "score", "reasons"]


async def test_a_schema_with_optional_fields_goes_non_strict(provider, credentials, stand_in):
    request = ask(output_schema=WithDefault.model_json_schema(), output_name="With Default!")
    result = await provider.complete(credentials, request)
    assert WithDefault.model_validate_json(result.text) == WithDefault(label="", note="")
    spec = stand_in.chat_bodies()[0]["response_format"]["json_schema"]
    assert (spec["name"], spec["strict"]) == ("With_Default_", False)
    assert spec["schema"] == WithDefault.model_json_schema()


async def test_stream_yields_the_pieces_then_the_usage(provider, credentials, stand_in):
    stand_in.answer("One two three.")
    items = [item async for item in provider.stream(credentials, ask())]
    *deltas, end = items
    assert all(isinstance(d, ChatDelta) for d in deltas)
    assert "".join(d.text for d in deltas) == "One two three."  # type: ignore[union-attr]
    assert len(deltas) == 3
    assert end == ChatEnd(usage=Usage(7, 4), model="gpt-4.1-mini", stop_reason="stop")
    body = stand_in.chat_bodies()[0]
    assert (body["stream"], body["stream_options"]) == (True, {"include_usage": True})


async def test_a_structured_stream_writes_the_json(provider, credentials, stand_in):
    stand_in.answer({"label": "negative", "score": -0.5, "reasons": []})
    request = ask(output_schema=Verdict.model_json_schema(), output_name="Verdict")
    text = "".join(
        [i.text async for i in provider.stream(credentials, request) if isinstance(i, ChatDelta)]
    )
    assert json.loads(text) == {"label": "negative", "score": -0.5, "reasons": []}


async def test_embeddings(provider, credentials, stand_in):
    texts = ["refund my card payment", "card payment refund please", "the weather is nice"]
    result = await provider.embed(
        credentials,
        EmbeddingRequest(task="assist.search", model="text-embedding-3-small", inputs=texts),
    )
    assert (len(result.vectors), len(result.vectors[0])) == (3, 1536)
    assert result.model == "text-embedding-3-small"
    assert result.usage == Usage(12, 0)

    def cosine(a: list[float], b: list[float]) -> float:
        return sum(x * y for x, y in zip(a, b, strict=True))

    first, similar, other = result.vectors
    assert math.isclose(cosine(first, first), 1.0)
    assert cosine(first, similar) > cosine(first, other)
    [request] = stand_in.requests
    assert request.path == "/v1/embeddings"
    assert request.body["input"] == texts


async def test_the_sdks_default_base64_embeddings_decode(platform, stand_in):
    client = openai.AsyncOpenAI(
        api_key=stand_in.api_key, base_url=f"{stand_in.url}/v1", max_retries=0
    )
    response = await client.embeddings.create(model="text-embedding-3-small", input="hello")
    await client.close()
    assert len(response.data[0].embedding) == 1536
    assert math.isclose(max(response.data[0].embedding), 1.0, rel_tol=1e-6)


# --- failures ------------------------------------------------------------------------------


async def test_a_wrong_key_is_not_retryable(provider, stand_in):
    wrong = Credentials(api_key=SecretValue("sk-wrong-key-0123456789abcdef"))
    with pytest.raises(openai.AuthenticationError) as caught:
        await provider.complete(wrong, ask())
    assert caught.value.status_code == 401
    assert caught.value.code == "invalid_api_key"
    assert provider.classify(caught.value) == "rejected"
    assert stand_in.requests[0].api_key == "sk-wrong-key-0123456789abcdef"


async def test_429_with_retry_after_is_transient_with_its_delay(provider, credentials, stand_in):
    stand_in.fail_next(1, 429, retry_after="7")
    with pytest.raises(TransientError) as caught:
        await provider.complete(credentials, ask())
    assert (caught.value.status, caught.value.retry_after) == (429, 7.0)
    cause = caught.value.__cause__
    assert isinstance(cause, openai.RateLimitError)
    assert provider.classify(cause) == "transient"
    assert cause.body == {  # OpenAI's error shape, parsed by the SDK
        "message": "Rate limit reached for requests per min (RPM): Limit 3, Used 3, Requested 1.",
        "type": "requests",
        "param": None,
        "code": "rate_limit_exceeded",
    }


async def test_429_without_retry_after_is_left_to_classify(provider, credentials, stand_in):
    stand_in.fail_next(1, 429)
    with pytest.raises(openai.RateLimitError) as caught:
        await provider.complete(credentials, ask())
    assert provider.classify(caught.value) == "transient"


async def test_the_resilience_helper_retries_a_throttled_request(
    platform: Platform, provider, credentials, stand_in
):
    stand_in.fail_next(1, 429, retry_after="0")
    stand_in.answer("after the wait")
    result = await platform.resilience.call(
        "openai",
        lambda: provider.complete(credentials, ask()),
        tenant_id=None,
        classify=provider.classify,
    )
    assert result.text == "after the wait"
    assert len(stand_in.chat_bodies()) == 2


async def test_exhausted_quota_is_not_retryable(provider, credentials, stand_in):
    stand_in.fail_next(1, 429, code="insufficient_quota", retry_after="1")
    with pytest.raises(openai.RateLimitError) as caught:
        await provider.complete(credentials, ask())
    assert provider.classify(caught.value) == "rejected"


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (500, "transient"),
        (503, "transient"),
        (400, "rejected"),
        (403, "rejected"),
        (404, "rejected"),
    ],
)
async def test_status_classification(provider, credentials, stand_in, status, verdict):
    stand_in.fail_next(1, status)
    with pytest.raises(openai.APIStatusError) as caught:
        await provider.complete(credentials, ask())
    assert caught.value.status_code == status
    assert provider.classify(caught.value) == verdict


async def test_a_stream_refused_midway_is_classified(provider, credentials, stand_in):
    stand_in.fail_next(1, 500)
    with pytest.raises(openai.InternalServerError) as caught:
        [item async for item in provider.stream(credentials, ask())]
    assert provider.classify(caught.value) == "transient"


async def test_an_unreachable_service_is_transient(
    platform, provider_plugin, credentials, monkeypatch
):
    provider, raised = await complete_unreachable(
        platform, provider_plugin, credentials, monkeypatch
    )
    assert isinstance(raised, openai.APIConnectionError)
    assert provider.classify(raised) == "transient"
    assert provider.classify(openai.APITimeoutError(request=raised.request)) == "transient"
