"""Airlock keeps an AI service in its pilot until its production-readiness evidence is complete."""

__version__ = "0.1.0"
