"""Delivered products as a service: their page (as built, live state, service contract) and the
customer's service requests on them."""
