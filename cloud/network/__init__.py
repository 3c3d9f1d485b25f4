"""network domain."""
