"""Node mapping profiles shipped with the gateway (one YAML file per kind of OPC UA server)."""
