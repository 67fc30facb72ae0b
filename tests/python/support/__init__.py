"""Helpers shared by the Python test tiers."""
