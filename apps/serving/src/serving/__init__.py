"""Serving app: registry-following FastAPI model server."""
