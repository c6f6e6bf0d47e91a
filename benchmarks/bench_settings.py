"""Settings for benchmarks only: the portal plus a bare view to compare against."""

from kdcis.settings import *  # noqa: F403

ROOT_URLCONF = "benchmarks.urls"
