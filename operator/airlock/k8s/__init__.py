"""Thin I/O over the kubernetes client. `Any` stays in here."""
