"""The HTTP channel: the FastAPI app (``app``), its middleware, typed dependencies and routes."""
