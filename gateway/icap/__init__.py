"""The ICAP channel: ``protocol`` (RFC 3507 on the wire, pure) and ``server`` (connections, REQMOD)."""
