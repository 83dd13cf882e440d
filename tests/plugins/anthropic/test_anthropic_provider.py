"""The Anthropic provider through the official SDK against the stand-in: messages, structured
output through a forced tool, streaming events, no embeddings, and how failures are
classified."""

from __future__ import annotations

import json

import anthropic
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
    EmbeddingsUnsupportedError,
    Usage,
)
from plugins.anthropic.testing import DEFAULT_ANSWER


class Verdict(BaseModel):
    label: str
    score: float
    reasons: list[str]


def ask(prompt: str = "How are you?", **fields: object) -> ChatRequest:
    return chat_request("claude-haiku-4-5", prompt, **fields)


async def test_complete_sends_the_system_parameter_and_reads_the_usage(
    provider, credentials, stand_in
):
    stand_in.answer("I am well, thank you.")
    result = await provider.complete(credentials, ask(max_output_tokens=50, temperature=0.2))
    assert result.text == "I am well, thank you."
    assert result.usage == Usage(input_tokens=7, output_tokens=7)  # words and signs
    assert (result.model, result.stop_reason) == ("claude-haiku-4-5", "end_turn")
    [request] = stand_in.requests
    assert (request.method, request.path, request.api_key) == (
        "POST",
        "/v1/messages",
        stand_in.api_key,
    )
    assert request.version == "2023-06-01"
    assert request.body == {
        "model": "claude-haiku-4-5",
        "max_tokens": 50,
        "system": "Be brief.",
        "temperature": 0.2,
        "messages": [{"role": "user", "content": "How are you?"}],
    }


async def test_without_a_system_prompt_none_is_sent(provider, credentials, stand_in):
    conversation = [
        ChatMessage("user", "Hi"),
        ChatMessage("assistant", "Hello"),
        ChatMessage("user", "Bye"),
    ]
    result = await provider.complete(credentials, ask(system=None, messages=conversation))
    assert result.text == DEFAULT_ANSWER
    body = stand_in.message_bodies()[0]
    assert "system" not in body
    assert [m["role"] for m in body["messages"]] == ["user", "assistant", "user"]


async def test_structured_output_is_a_forced_tool(provider, credentials, stand_in):
    stand_in.answer({"label": "positive", "score": 0.9, "reasons": ["thanks"]})
    request = ask(output_schema=Verdict.model_json_schema(), output_name="Verdict")
    result = await provider.complete(credentials, request)
    assert Verdict.model_validate_json(result.text) == Verdict(
        label="positive", score=0.9, reasons=["thanks"]
    )
    assert result.stop_reason == "tool_use"
    body = stand_in.message_bodies()[0]
    [tool] = body["tools"]
    assert (tool["name"], tool["input_schema"]) == ("Verdict", Verdict.model_json_schema())
    assert body["tool_choice"] == {"type": "tool", "name": "Verdict"}


async def test_an_unscripted_structured_answer_fits_the_schema(provider, credentials, stand_in):
    request = ask(output_schema=Verdict.model_json_schema(), output_name="My Verdict")
    result = await provider.complete(credentials, request)
    assert Verdict.model_validate_json(result.text) == Verdict(label="", score=0.0, reasons=[])
    assert stand_in.message_bodies()[0]["tool_choice"]["name"] == "My_Verdict"


async def test_stream_yields_the_text_deltas_then_the_usage(provider, credentials, stand_in):
    stand_in.answer("One two three.")
    items = [item async for item in provider.stream(credentials, ask())]
    *deltas, end = items
    assert all(isinstance(d, ChatDelta) for d in deltas)
    assert "".join(d.text for d in deltas) == "One two three."  # type: ignore[union-attr]
    assert len(deltas) == 3
    assert end == ChatEnd(usage=Usage(7, 4), model="claude-haiku-4-5", stop_reason="end_turn")
    assert stand_in.message_bodies()[0]["stream"] is True


async def test_a_structured_stream_writes_the_json(provider, credentials, stand_in):
    stand_in.answer({"label": "negative", "score": -0.5, "reasons": []})
    request = ask(output_schema=Verdict.model_json_schema(), output_name="Verdict")
    items = [i async for i in provider.stream(credentials, request)]
    text = "".join(i.text for i in items if isinstance(i, ChatDelta))
    assert json.loads(text) == {"label": "negative", "score": -0.5, "reasons": []}
    assert isinstance(items[-1], ChatEnd)
    assert items[-1].stop_reason == "tool_use"


async def test_there_are_no_embeddings(provider, credentials, stand_in):
    with pytest.raises(EmbeddingsUnsupportedError):
        await provider.embed(
            credentials, EmbeddingRequest(task="assist.search", model="x", inputs=["a"])
        )
    assert stand_in.requests == []


async def test_the_sdks_own_stream_helper_reads_the_events(stand_in):
    client = anthropic.AsyncAnthropic(
        api_key=stand_in.api_key, base_url=stand_in.url, max_retries=0
    )
    stand_in.answer("Hello there.")
    async with client.messages.stream(
        model="claude-haiku-4-5", max_tokens=20, messages=[{"role": "user", "content": "Hi"}]
    ) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    await client.close()
    assert text == "Hello there."
    assert (final.usage.input_tokens, final.usage.output_tokens) == (1, 3)


# --- failures ------------------------------------------------------------------------------


async def test_a_wrong_key_is_not_retryable(provider, stand_in):
    wrong = Credentials(api_key=SecretValue("sk-ant-wrong-0123456789abcdef"))
    with pytest.raises(anthropic.AuthenticationError) as caught:
        await provider.complete(wrong, ask())
    assert caught.value.status_code == 401
    assert caught.value.body == {
        "type": "error",
        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
    }
    assert provider.classify(caught.value) == "rejected"


@pytest.mark.parametrize("status", [429, 529])
async def test_throttled_or_overloaded_with_retry_after_is_transient_with_its_delay(
    provider, credentials, stand_in, status
):
    stand_in.fail_next(1, status, retry_after="7")
    with pytest.raises(TransientError) as caught:
        await provider.complete(credentials, ask())
    assert (caught.value.status, caught.value.retry_after) == (status, 7.0)
    cause = caught.value.__cause__
    assert isinstance(cause, anthropic.RateLimitError | anthropic.OverloadedError)
    assert provider.classify(cause) == "transient"
    assert cause.body["type"] == "error"  # type: ignore[index]


async def test_the_resilience_helper_retries_an_overloaded_request(
    platform: Platform, provider, credentials, stand_in
):
    stand_in.fail_next(1, 529, retry_after="0")
    stand_in.answer("after the wait")
    result = await platform.resilience.call(
        "anthropic",
        lambda: provider.complete(credentials, ask()),
        tenant_id=None,
        classify=provider.classify,
    )
    assert result.text == "after the wait"
    assert len(stand_in.message_bodies()) == 2


@pytest.mark.parametrize(
    ("status", "verdict"),
    [
        (429, "transient"),
        (529, "transient"),
        (500, "transient"),
        (400, "rejected"),
        (403, "rejected"),
        (404, "rejected"),
    ],
)
async def test_status_classification(provider, credentials, stand_in, status, verdict):
    stand_in.fail_next(1, status)
    with pytest.raises(anthropic.APIStatusError) as caught:
        await provider.complete(credentials, ask())
    assert caught.value.status_code == status
    assert provider.classify(caught.value) == verdict


async def test_a_refused_stream_is_classified(provider, credentials, stand_in):
    stand_in.fail_next(1, 529)
    with pytest.raises(anthropic.OverloadedError) as caught:
        [item async for item in provider.stream(credentials, ask())]
    assert provider.classify(caught.value) == "transient"


async def test_an_unreachable_service_is_transient(
    platform, provider_plugin, credentials, monkeypatch
):
    provider, raised = await complete_unreachable(
        platform, provider_plugin, credentials, monkeypatch
    )
    assert isinstance(raised, anthropic.APIConnectionError)
    assert provider.classify(raised) == "transient"
    timeout = anthropic.APITimeoutError(request=raised.request)
    assert provider.classify(timeout) == "transient"
