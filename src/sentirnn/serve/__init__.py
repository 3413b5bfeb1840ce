"""HTTP serving: the FastAPI app and its static page."""
