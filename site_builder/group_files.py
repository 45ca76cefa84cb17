"""The QR images of members-only groups (`extra.community.groups.<name>.qr_image`): copied
into private/ beside the full lessons, never into site/, so only the paywall serves them,
and only to members allowed in. The image must therefore live outside `docs_dir` (mkdocs
publishes everything there)."""

from __future__ import annotations

import shutil
from pathlib import Path

from site_builder.content import ContentIndex
from site_builder.errors import ContentError
from site_builder.manifest_writer import group_qr_file


def group_image_errors(index: ContentIndex, config_dir: Path, docs_dir: Path) -> list[ContentError]:
    """A group's QR image that is missing, or inside docs_dir (it would be public)."""
    community = index.extra.community
    errors: list[ContentError] = []
    for name, group in sorted(community.groups.items() if community else []):
        if not group.qr_image:
            continue
        key = f"extra.community.groups.{name}.qr_image"
        source = (config_dir / group.qr_image).resolve()
        if source.is_relative_to(docs_dir.resolve()):
            errors.append(
                ContentError(
                    "mkdocs.yml",
                    key,
                    f"{group.qr_image} is inside docs_dir, which is published to site/: keep "
                    "a members-only group's QR image outside it (e.g. private-assets/)",
                )
            )
        elif not source.is_file():
            errors.append(
                ContentError("mkdocs.yml", key, f"{group.qr_image}: no such file (from mkdocs.yml)")
            )
    return errors


def copy_group_images(index: ContentIndex, config_dir: Path, private_dir: Path) -> None:
    """Copy each group's QR image to its place under `private_dir` (see `group_qr_file`)."""
    community = index.extra.community
    for name, group in community.groups.items() if community else []:
        if group.qr_image:
            target = private_dir / group_qr_file(name, group.qr_image)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(config_dir / group.qr_image, target)
