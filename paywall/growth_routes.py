"""The growth engine's HTTP endpoints, mounted by `paywall.app.create_app`: the beacon
(`POST /api/e`), the newsletter (unsubscribe, account setting) and `/admin/`."""

from __future__ import annotations

from paywall import admin, funnel, newsletter

routes = [*funnel.routes, *newsletter.routes, *admin.routes]
