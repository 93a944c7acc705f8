"""Detour's content inspection: extract text from an upload and find sensitive data in it.

A leaf library: bytes in, findings out. It knows nothing of HTTP, destinations or
policies; ``gateway`` wires it to those.
"""
