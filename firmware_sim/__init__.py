"""Simulated shop-floor machines and field products, each a real OPC UA server."""
