"""Placeholder, filled by its flow."""
