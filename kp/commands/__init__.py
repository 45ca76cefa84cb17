"""The `kp` sub-commands, one module per family: `build` (build, new, check), `serve`,
`admin` (db, members, stripe, events), `growth` (partners, stats, newsletter), `demo`."""
