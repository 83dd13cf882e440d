"""Audio the platform makes itself, sent inline as ``playback_content`` (base64 WAV).

Call Control has no "wait" command: a pause is a looped second of silence, whose
``call.playback.ended`` continues the script. A call on hold hears a soft tone every few
seconds unless the operator configured hold music (``KRALIKI_TELNYX_HOLD_AUDIO_URL``).
"""

from __future__ import annotations

import base64
import functools
import io
import math
import struct
import wave

RATE = 8000
"""Telephone audio: 8 kHz, 16-bit, mono."""


def _wav(samples: list[int]) -> str:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    return base64.b64encode(buffer.getvalue()).decode("ascii")


@functools.cache
def silence() -> str:
    """One second of silence, base64 WAV."""
    return _wav([0] * RATE)


@functools.cache
def hold_tone() -> str:
    """Three seconds: a quiet 440 Hz beep of 0.3 s, faded in and out, then silence."""
    beep = int(RATE * 0.3)
    fade = int(RATE * 0.03)
    samples = []
    for n in range(beep):
        envelope = min(1.0, n / fade, (beep - n) / fade)
        samples.append(int(3000 * envelope * math.sin(2 * math.pi * 440 * n / RATE)))
    return _wav(samples + [0] * (RATE * 3 - beep))
