"""The fast paths of `kp build`, in one package behind one switch (docs/accelerated-build.md).

Everything here makes the build faster and nothing changes its output: the page cache and
worker processes (build_loop.py), and the replacements of third-party internals, each
registered with the fingerprint of the upstream source it was verified against
(replacements.py). `KP_ACCEL=0` or `kp build --no-accel` builds through mkdocs' own build
without importing any of it; site_builder.build chooses (`accel.engine.AcceleratedBuild`).

Only this package may use private names of mkdocs, material, Python-Markdown,
pymdown-extensions, jieba or Pygments (`make lint` checks it). Importing it imports nothing:
`kp build` imports romanizer.py first thing, and helper processes (processes/) start fast.
"""
