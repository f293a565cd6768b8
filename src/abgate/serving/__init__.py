"""Serving adapters for standard model servers (MLServer custom runtime)."""
