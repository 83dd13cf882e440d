"""The ai plugin's HTTP routes (``/api/v1/ai/...``)."""
