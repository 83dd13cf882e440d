"""Recordings' media: loopback keeps no audio, it generates it. A recording's ``media_ref``
(``loopback://recordings/<id>.wav?seconds=<n>&channels=<c>``) says what to generate: a WAV
file of that length with a quiet tone per channel, streamed one second at a time."""

from __future__ import annotations

import functools
import math
import re
import struct
import wave
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

WAV_CONTENT_TYPE = "audio/wav"
RATE = 8000
"""Samples per second: telephone audio."""
SAMPLE_WIDTH = 2
HEADER_BYTES = 44
MAX_SECONDS = 14400
TONES = (440.0, 660.0)
"""Hz of the tone on each channel (caller, callee)."""
_ID = re.compile(r"^/(RE[0-9a-f]{32})\.wav$")


class MediaRefError(ValueError):
    """Not a loopback recording's media reference."""


@dataclass(frozen=True, slots=True)
class Media:
    recording_id: str
    seconds: int
    channels: int

    @property
    def ref(self) -> str:
        return (
            f"loopback://recordings/{self.recording_id}.wav"
            f"?seconds={self.seconds}&channels={self.channels}"
        )

    @property
    def size(self) -> int:
        return HEADER_BYTES + self.seconds * RATE * SAMPLE_WIDTH * self.channels


def parse_ref(ref: str) -> Media:
    parts = urlsplit(ref)
    match = _ID.match(parts.path)
    if parts.scheme != "loopback" or parts.netloc != "recordings" or match is None:
        raise MediaRefError(f"{ref!r} is not a loopback recording")
    query = parse_qs(parts.query)
    try:
        seconds = int(query["seconds"][0])
        channels = int(query.get("channels", ["1"])[0])
    except (KeyError, ValueError):
        raise MediaRefError(f"{ref!r} does not say how long the recording is") from None
    if not 0 <= seconds <= MAX_SECONDS or channels not in (1, 2):
        raise MediaRefError(f"{ref!r} asks for {seconds} s on {channels} channels")
    return Media(match.group(1), seconds, channels)


@functools.cache
def one_second(channels: int) -> bytes:
    """One second of interleaved 16-bit samples: a tone at a tenth of full scale."""
    frames = bytearray()
    for n in range(RATE):
        for channel in range(channels):
            value = 0.1 * math.sin(2 * math.pi * TONES[channel] * n / RATE)
            frames += struct.pack("<h", int(value * 32767))
    return bytes(frames)


class _Chunks:
    """A write-only, unseekable sink: ``wave`` then streams, trusting the frame count it was
    given instead of seeking back to patch the header."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        return None

    def take(self) -> bytes:
        data, self.parts = b"".join(self.parts), []
        return data


async def wav_chunks(media: Media) -> AsyncIterator[bytes]:
    """The WAV file of ``media``: the header with the first second, then a second a chunk."""
    sink = _Chunks()
    # Not a with block: closed only once every frame is out (closing early would patch
    # the header, which needs a seekable file).
    writer = wave.open(sink, "wb")  # type: ignore[call-overload]  # noqa: SIM115
    writer.setnchannels(media.channels)
    writer.setsampwidth(SAMPLE_WIDTH)
    writer.setframerate(RATE)
    writer.setnframes(media.seconds * RATE)
    second = one_second(media.channels)
    if media.seconds == 0:
        writer.writeframesraw(b"")
    for _ in range(media.seconds):
        writer.writeframesraw(second)  # writeframes would try to patch the header
        yield sink.take()
    writer.close()
    rest = sink.take()
    if rest:
        yield rest
