"""Build half: content/ → site/ (public) + private/ (paid lessons) + private/manifest.json."""

CACHE_NAME = ".kp-cache"
"""The build's cache folder, beside mkdocs.yml (git-ignored): page results, memos."""
