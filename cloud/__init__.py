"""The GloNet coordinator: registry, ingest, live network state, telemetry, API and pages."""
