"""The suites' name for the render -> loopback-process wiring, which lives in `sandbox.wiring`.

New code imports `sandbox.wiring`; this module only keeps `from tests import wiring` working.
"""

from sandbox.wiring import *  # noqa: F403
