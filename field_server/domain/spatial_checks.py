"""The spatial flags of a find: outside its site beyond its accuracy, or a poor position fix.

Flags warn and never reject (DESIGN §4, §7). The same rules run when a find is pushed and when
someone asks for an expedition's finds to be checked again (after a boundary is redrawn, say).
"""

from __future__ import annotations

from typing import Any

DEFAULT_ACCURACY_THRESHOLD_M = 10.0


def accuracy_threshold(expedition_threshold_m: float | None) -> float:
    return expedition_threshold_m or DEFAULT_ACCURACY_THRESHOLD_M


def spatial_flags(
    position: dict[str, Any],
    site_code: str | None,
    known_sites: set[str] | frozenset[str],
    distance_outside_m: float | None,
    expedition_code: str,
    threshold_m: float,
) -> list[dict[str, Any]]:
    """``distance_outside_m``: how far the position lies outside the site (0 inside), when the
    site is known."""
    flags: list[dict[str, Any]] = []
    accuracy = position.get("horizontal_accuracy_m")
    if accuracy is not None and accuracy > threshold_m:
        flags.append(
            {
                "code": "poor_accuracy",
                "detail": f"horizontal accuracy {accuracy:g} m is worse than the "
                f"expedition's {threshold_m:g} m",
                "accuracy_m": accuracy,
                "threshold_m": threshold_m,
            }
        )
    if site_code is None:
        return flags
    if site_code not in known_sites:
        flags.append(
            {
                "code": "unknown_site",
                "detail": f"site {site_code!r} is not among {expedition_code}'s sites",
            }
        )
    elif distance_outside_m is not None and distance_outside_m > (accuracy or 0.0):
        flags.append(
            {
                "code": "outside_site",
                "detail": f"{distance_outside_m:.2f} m outside site {site_code}'s boundary",
                "distance_m": round(distance_outside_m, 3),
                "site_code": site_code,
            }
        )
    return flags
