"""Members-only community groups: which of `manifest.groups` a member may join, from the
entitlement keys they hold now. Nothing else ever learns a group's link or QR image."""

from __future__ import annotations

from collections.abc import Iterable

from kp_contract.manifest import MEMBER_KEY, Group, Manifest


def groups_for(manifest: Manifest | None, keys: Iterable[str]) -> list[Group]:
    """The groups whose audience is among `keys` (a signed-in member holds `member`)."""
    if manifest is None:
        return []
    held = set(keys) | {MEMBER_KEY}
    return [group for group in manifest.groups.values() if group.requires in held]


def groups_of_page(groups: list[Group], requires: Iterable[str]) -> list[Group]:
    """The groups to show at the foot of a lesson: those of its course or tier."""
    wanted = set(requires)
    return [group for group in groups if group.requires in wanted]
