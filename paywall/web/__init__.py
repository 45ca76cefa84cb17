"""HTTP routes and pages: the public site and gated lessons, sign-in, checkout and its pages,
the account page, the admin dashboard, and request-level protections."""
