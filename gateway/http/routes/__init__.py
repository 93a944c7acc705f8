"""HTTP routes: thin adapters that translate requests into ``Pipeline.inspect`` calls."""
