"""The growth engine's HTTP endpoints, mounted by `paywall.app.create_app`: the beacon
(`POST /api/e`), the newsletter (unsubscribe, account setting) and `/admin/`."""

from __future__ import annotations

from paywall.growth import funnel, newsletter
from paywall.web import admin

routes = [*funnel.routes, *newsletter.routes, *admin.routes]
