"""Kraliki's built-in feature plugins.

Each subpackage is an ordinary plugin, registered through the ``kraliki.plugins`` entry-point
group in ``pyproject.toml`` exactly like a third-party one, and depending only on ``kernel``'s
public API (and the public API of the plugins it declares in ``requires``).
"""
