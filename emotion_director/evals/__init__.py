"""Placeholder package; see the project's issues for what lands here."""
