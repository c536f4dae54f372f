"""Casefile: evidence-tracking case management for human-rights investigations."""

__version__ = "0.1.0"
