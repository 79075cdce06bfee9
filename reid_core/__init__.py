"""reid_core: the footage person search engine (pure, typed, no web framework)."""

__version__ = "0.1.0"
