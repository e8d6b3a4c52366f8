"""The suites' name for the loopback servers; they live in `sandbox.services` (bench uses them too).

New code imports `sandbox.services`; this module only keeps `from tests import services` working.
"""

from sandbox.services import *  # noqa: F403
