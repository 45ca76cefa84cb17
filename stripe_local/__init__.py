"""A local Stripe test server: Stripe's API shapes for the parts knowledge-pay uses.

Development (`kp demo`) and the tests point the official SDK at it through `STRIPE_API_BASE`;
it hosts its own checkout and customer-portal pages and delivers webhooks signed exactly as
Stripe signs them. It is a dev/test tool: the product never imports it.
"""
