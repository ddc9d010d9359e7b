"""The fault suite's process harness, reused: a real `flashdispatch serve` to fuzz."""

from tests.faults.conftest import spawn  # noqa: F401  (fixture)
