"""The growth engine's HTTP endpoints, mounted by `paywall.app.create_app`: the beacon
(`POST /api/e`) and the newsletter (unsubscribe, account setting). Its dashboard, `/admin/`,
is a page of `paywall.web`."""

from __future__ import annotations

from paywall.growth import funnel, newsletter

routes = [*funnel.routes, *newsletter.routes]
