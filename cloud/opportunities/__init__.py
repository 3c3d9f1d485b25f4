"""Opportunities (a customer's configured product or a call for tenders) and partner search."""
