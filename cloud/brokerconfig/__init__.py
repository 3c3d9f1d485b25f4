"""brokerconfig domain."""
