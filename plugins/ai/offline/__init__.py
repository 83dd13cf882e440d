"""The offline provider: local, deterministic, keyless. Every task answers with its own
offline function; the models here (VADER sentiment, an extractive summariser) are what
those functions use."""
