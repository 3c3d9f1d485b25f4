"""The network coordinator: ingest, registry, orders, scheduling, dispatch, maintenance, API."""
