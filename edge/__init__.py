"""The edge gateway: OPC UA machines → MQTT, with a crash-safe outbox, and dispatches back."""
