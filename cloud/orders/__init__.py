"""Quotes, orders, their operations and delivered products."""
