"""The checks: each module registers its functions with motqa.checks.registry. Importing the
package imports them all, so that the registry is complete."""

from motqa.checks import (  # noqa: F401 - imported for their registrations
    benchmark_rules,
    conventions,
    image_folders,
    images,
    published,
    results,
    rows,
    sequences,
    tracks,
)
