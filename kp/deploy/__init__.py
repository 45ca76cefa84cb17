"""Deployment files generated from the build and the settings (`kp deploy nginx|systemd`).

Each module turns checked options into the text of one kind of file; `kp.commands.deploy`
reads the manifest and the settings, validates the command line and writes the files.
"""
