"""Detour's recognizers: presidio-analyzer recognizers for personal data and secrets.

Each supports one entity, declares context words (English, Swedish, Dutch,
German), and follows one score contract the scanner relies on: a result at or
above 0.5 stands on its own (strong format or valid checksum); below 0.5 it is
weak and counts only with a context word nearby; invalid candidates are never
returned.
"""
