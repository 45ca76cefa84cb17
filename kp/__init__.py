"""The `kp` command line: the top layer, and the only one that imports both halves.

`kp.cli` is the console script's group; `kp.commands` holds its commands (the build's, the
paywall's, the demo), each importing what it runs only when it runs. `kp.serve_watch`
composes the build and the paywall for `kp serve --watch`.
"""
