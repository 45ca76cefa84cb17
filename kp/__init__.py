"""Shared core of the knowledge-pay site generator.

`site_builder` (content → static site + private lessons + manifest) and `paywall`
(ASGI server that reads that output) never import each other; what they agree on lives
here: settings loading (`kp.settings`) and the build manifest contract (`kp.manifest`).
`kp.cli` is the composition root behind the `kp` console script.
"""
