"""Tickets: opened by alerts, plans or by hand, assigned along the technicians' routes,
reminded and escalated, worked and resolved (:mod:`flows`, :mod:`assigning`)."""
