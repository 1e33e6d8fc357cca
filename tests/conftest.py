"""Settings for the whole test suite.

Hypothesis profiles, chosen by ``HYPOTHESIS_PROFILE`` (default ``ci``; Hypothesis's own
``--hypothesis-profile`` option overrides it):

- ``ci``: the same examples on every run (derandomized, no example database), no deadlines, so a
  run is reproducible and a red build is a real failure;
- ``explore`` (``make test-explore``): randomized, ten times the examples, failures kept in the
  example database under ``.hypothesis/`` and replayed first next time, and each failure printed
  with a ``@reproduce_failure`` blob.

Property tests take their settings from ``tests.property.support.deterministic(n)``, which scales
``n`` by the active profile's example budget.
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

PROFILE_VARIABLE = "HYPOTHESIS_PROFILE"
EXPLORE_FACTOR = 10
_SUPPRESSED = [HealthCheck.too_slow, HealthCheck.data_too_large]

settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    deadline=None,
    print_blob=False,
    suppress_health_check=_SUPPRESSED,
)
settings.register_profile(
    "explore",
    derandomize=False,
    database=DirectoryBasedExampleDatabase(Path(__file__).resolve().parent.parent / ".hypothesis" / "examples"),
    deadline=None,
    print_blob=True,
    max_examples=settings.get_profile("ci").max_examples * EXPLORE_FACTOR,
    suppress_health_check=_SUPPRESSED,
)
settings.load_profile(os.environ.get(PROFILE_VARIABLE) or "ci")
