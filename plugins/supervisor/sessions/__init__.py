"""Supervision sessions: a supervisor's leg on an agent's live conversation (monitor,
whisper, barge), from the ring of their phone to the moment they or the call leave."""
