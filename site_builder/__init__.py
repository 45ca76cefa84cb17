"""Build half: content/ → site/ (public) + private/ (paid lessons) + private/manifest.json."""
