"""HTTP layer: routes, dependencies, middleware."""
