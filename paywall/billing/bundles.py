"""What a product key gives: itself, or for a bundle (`bundle:<name>`) one `course:<slug>`
entitlement per course of the bundle.

Why one entitlement per course rather than one `bundle:<name>` key: everything that asks
"may this member read course X" (gated pages, /api/auth, drip, members-only groups of a
course, certificates, the members desk's course filter) keeps asking about `course:<slug>`
and needs no knowledge of bundles; each row carries the bundle's payment intent, so a
refund or a dispute revokes them all through the normal path. The buyer gets the courses
the bundle held when they paid (a course added to it later is not given to earlier buyers).
"""

from __future__ import annotations

from kp_contract.manifest import Manifest, course_key

BUNDLE_PREFIX = "bundle:"


def is_bundle_key(key: str | None) -> bool:
    return key is not None and key.startswith(BUNDLE_PREFIX)


def bundle_name(key: str) -> str:
    return key.removeprefix(BUNDLE_PREFIX)


def known_bundle(manifest: Manifest | None, key: str | None) -> str | None:
    """The key when it names a bundle of this manifest, else None."""
    if manifest is None or key is None or not is_bundle_key(key):
        return None
    return key if bundle_name(key) in manifest.bundles else None


def granted_keys(manifest: Manifest | None, key: str) -> list[str]:
    """The entitlement keys a purchase of `key` gives: a bundle's courses (those still in
    the manifest), anything else itself."""
    if not is_bundle_key(key):
        return [key]
    if manifest is None or bundle_name(key) not in manifest.bundles:
        return []
    bundle = manifest.bundles[bundle_name(key)]
    return [course_key(slug) for slug in bundle.courses if slug in manifest.courses]
