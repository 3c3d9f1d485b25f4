"""Webhooks and maintenance's notifications through the coordinator's outbox."""
