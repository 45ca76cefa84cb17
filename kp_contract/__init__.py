"""What the build and the paywall agree on; it imports nothing of ours.

- `settings`: environment variables (and `.env`) both halves read;
- `manifest`: `private/manifest.json`, written by the build, read by the paywall;
- `money`: minor units and currencies; `growth`: the growth rules the manifest carries;
- `i18n` and `translations.yml`: the languages and every interface string.
"""
