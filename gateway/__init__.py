"""Detour's service: wires extraction, detection, policy and alternatives to HTTP, CLI and storage."""
