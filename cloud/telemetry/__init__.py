"""telemetry domain."""
