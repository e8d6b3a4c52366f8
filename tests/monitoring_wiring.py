"""The suites' name for scrape configs from the rendered monitors (now `sandbox.monitoring`)."""

from sandbox.monitoring import scrape_configs_from_rendered

__all__ = ["scrape_configs_from_rendered"]
