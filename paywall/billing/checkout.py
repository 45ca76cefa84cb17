"""Buying: Stripe Checkout Sessions, the success page's view of a session, the billing portal.

The manifest says what is for sale (a course sold once, or a membership tier by month or
year) and which Stripe price sells it (a price id, or a lookup key resolved here). Access is
never granted from this module: only the verified webhook grants.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import stripe
from sqlalchemy.orm import Session

from kp_contract.manifest import Manifest, Price, bundle_key, course_key, price_key, tier_key
from paywall.billing import stripe_objects as so
from paywall.billing.bundles import granted_keys
from paywall.billing.event_context import PAID_STATUSES, landing_url
from paywall.billing.role_prices import RoleQuote, role_quote
from paywall.database.models import Member
from paywall.members.entitlements import is_entitled
from paywall.members.records import find_member, find_member_by_customer
from paywall.runtime.context import Paywall

if TYPE_CHECKING:
    from stripe.params.checkout import SessionCreateParams

SESSION_ID_RE = re.compile(r"^cs_[A-Za-z0-9_]{1,250}$")
INTERVALS = ("month", "year")
LIFETIME = "lifetime"
"""`interval=lifetime`: a tier's one-time lifetime price (Checkout in `payment` mode)."""
ONE_TIME_ONLY = frozenset({"alipay", "wechat_pay"})
"""Payment method types Stripe Checkout takes in `payment` mode only (not subscriptions)."""


class CheckoutError(Exception):
    """A checkout that cannot proceed; `message` is safe to show the buyer, `status` is the
    HTTP status of the page that shows it."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class Product:
    """One thing for sale, resolved from the manifest."""

    key: str
    title: str
    mode: str
    price: Price
    url: str
    unlocks: tuple[str, ...]
    grants: tuple[str, ...] = ()
    """What the purchase gives when it is more than `key` (a bundle: each course); the
    buyer owns it already only when they hold all of them."""

    @property
    def price_key(self) -> str:
        """What a role price is given for (`course:x`, `tier:pro:month`, `bundle:y`)."""
        return price_key(self.key, self.price.interval)


def resolve_product(
    manifest: Manifest | None,
    course: str | None,
    tier: str | None,
    interval: str | None,
    *,
    bundle: str | None = None,
) -> Product:
    """What the checkout form asks for (`course=<slug>`, `tier=<name>&interval=` with
    `month`, `year` or `lifetime`, or `bundle=<name>`)."""
    if manifest is None:
        raise CheckoutError(503, "The site has not been built yet, so nothing is for sale.")
    course, tier, interval = (course or "").strip(), (tier or "").strip(), (interval or "").strip()
    bundle = (bundle or "").strip()
    if len([x for x in (course, tier, bundle) if x]) > 1:
        raise CheckoutError(
            400, "Choose one thing to buy (a course, a membership tier or a bundle), not both."
        )
    if bundle:
        return _bundle_product(manifest, bundle)
    if course:
        found = manifest.courses.get(course)
        if found is None:
            raise CheckoutError(404, f"There is no course {course!r} for sale.")
        if found.mode == "subscription" and found.tier:
            return _tier_product(manifest, found.tier, interval or found.price.interval)
        unlocks = (course_key(found.slug), *(tier_key(t) for t in found.tier_names()))
        return Product(
            key=course_key(found.slug),
            title=found.title,
            mode=found.mode,
            price=found.price,
            url=found.url,
            unlocks=unlocks,
        )
    if tier:
        return _tier_product(manifest, tier, interval)
    raise CheckoutError(400, "The form named no course, membership tier or bundle to buy.")


def _tier_product(manifest: Manifest, name: str, interval: str | None) -> Product:
    found = manifest.tiers.get(name)
    if found is None:
        raise CheckoutError(404, f"There is no membership tier {name!r}.")
    first_course = manifest.courses.get(found.courses[0]) if found.courses else None
    url = first_course.url if first_course else "/account/"
    if interval == LIFETIME:
        if found.lifetime is None:
            raise CheckoutError(404, f"The {found.title} membership has no lifetime price.")
        return Product(
            key=tier_key(found.name),
            title=found.title,
            mode="payment",
            price=found.lifetime,
            url=url,
            unlocks=(tier_key(found.name),),
        )
    if interval and interval not in INTERVALS:
        raise CheckoutError(
            400, f"Billing interval must be month or year (or lifetime), not {interval!r}."
        )
    chosen = interval or ("month" if "month" in found.prices else next(iter(found.prices), None))
    if chosen not in found.prices:
        raise CheckoutError(404, f"The {found.title} membership has no {chosen} price.")
    return Product(
        key=tier_key(found.name),
        title=found.title,
        mode="subscription",
        price=found.prices[chosen],
        url=url,
        unlocks=(tier_key(found.name),),
    )


def _bundle_product(manifest: Manifest, name: str) -> Product:
    found = manifest.bundles.get(name)
    if found is None:
        raise CheckoutError(404, f"There is no bundle {name!r} for sale.")
    grants = tuple(granted_keys(manifest, bundle_key(found.name)))
    if not grants:
        raise CheckoutError(404, f"The bundle {found.title!r} has no course for sale.")
    first_course = manifest.courses.get(found.courses[0])
    return Product(
        key=bundle_key(found.name),
        title=found.title,
        mode="payment",
        price=found.price,
        url=first_course.url if first_course else "/account/",
        unlocks=grants,
        grants=grants,
    )


def resolve_price_id(client: stripe.StripeClient, price: Price) -> str:
    """The Stripe price id: given directly, or the active price holding the lookup key."""
    if price.stripe_price:
        return price.stripe_price
    if not price.lookup_key:
        raise CheckoutError(500, "This product has no Stripe price id or lookup key configured.")
    found = client.v1.prices.list({"lookup_keys": [price.lookup_key], "active": True, "limit": 1})
    data = so.as_dict(found).get("data") or []
    if not data:
        raise CheckoutError(
            503,
            f"No Stripe price has the lookup key {price.lookup_key!r} yet "
            "(the site owner needs to run `kp stripe sync`).",
        )
    return str(data[0]["id"])


def price_for(pw: Paywall, product: Product, lang: str, role: str | None = None) -> Price:
    """The price a reader of `lang` pays: in the language's currency
    (`extra.paywall.currency_by_lang`) when the product is priced in it, else its main one;
    a member's `role` price (`paywall.billing.role_prices`) when their role has one."""
    quote = role_price_for(pw, product, lang, role)
    if quote is not None:
        return quote.price
    manifest = pw.manifest()
    currency = manifest.currency_for(lang) if manifest is not None else None
    return product.price.in_currency(currency)


def role_price_for(pw: Paywall, product: Product, lang: str, role: str | None) -> RoleQuote | None:
    """The member's role price for `product` in their language's currency, if any."""
    manifest = pw.manifest()
    currency = manifest.currency_for(lang) if manifest is not None else None
    return role_quote(manifest, role, product.price_key, product.price, currency)


def payment_method_params(methods: list[str], mode: str) -> dict[str, Any]:
    """`payment_method_types` (and the options some need) for the configured methods that
    Stripe allows in this mode: Alipay and WeChat Pay are for one-time payments only, and
    WeChat Pay needs `payment_method_options.wechat_pay.client` (`web` for a browser).
    Nothing configured: Stripe's default (no parameter). A subscription with only wallets
    configured is paid by card."""
    if not methods:
        return {}
    chosen = [m for m in methods if mode == "payment" or m not in ONE_TIME_ONLY] or ["card"]
    params: dict[str, Any] = {"payment_method_types": chosen}
    if "wechat_pay" in chosen:
        params["payment_method_options"] = {"wechat_pay": {"client": "web"}}
    return params


def already_owned(db: Session, pw: Paywall, member: Member | None, product: Product) -> bool:
    """A signed-in member who can already read it should not pay twice (a bundle: every
    one of its courses)."""
    if member is None:
        return False
    if product.grants:
        return all(is_entitled(db, member, [key], pw.now()) for key in product.grants)
    return is_entitled(db, member, list(product.unlocks), pw.now())


def create_checkout_session(
    pw: Paywall,
    product: Product,
    member: Member | None,
    from_path: str,
    lang: str = "en",
    *,
    attribution: dict[str, str] | None = None,
    intent_hash: str | None = None,
    promotion_code: str | None = None,
    role: str | None = None,
) -> str:
    """Create the Checkout Session and return Stripe's URL for it. `lang` is the buyer's:
    Stripe's page (`locale`), our success page and a new member's e-mails use it.
    `attribution` (growth: invite/partner code, the article the buyer came from) is added
    to the metadata, where the webhook finds it; so is `intent_hash` for a signed-out buyer
    (their browser's sign-in nonce, hashed), so the purchase e-mail's link signs in at once
    in the browser that bought. `promotion_code` (an offer's, checked by
    `paywall.billing.offers.check_offer`) is applied as the session's discount; Stripe
    refuses `discounts` together with `allow_promotion_codes`, so the buyer then types none.
    `role` is the member's price role: its price is charged where it has one (recorded in
    the metadata as `kp_role`)."""
    client = pw.stripe()
    base = pw.settings.base_url
    meta = {so.META_PRODUCT: product.key, so.META_FROM: from_path[:500], so.META_LANG: lang}
    meta.update(attribution or {})
    if member is None and intent_hash:
        meta[so.META_INTENT] = intent_hash
    price = price_for(pw, product, lang, role)
    if role and role_price_for(pw, product, lang, role) is not None:
        meta[so.META_ROLE] = role
    manifest = pw.manifest()
    params: SessionCreateParams = {
        "mode": product.mode,
        "line_items": [{"price": resolve_price_id(client, price), "quantity": 1}],
        "success_url": f"{base}/checkout/success?session_id={{CHECKOUT_SESSION_ID}}&lang={lang}",
        "locale": lang,
        "cancel_url": f"{base}{from_path}",
        "metadata": meta,
    }
    if promotion_code:
        params["discounts"] = [{"promotion_code": promotion_code}]
    else:
        params["allow_promotion_codes"] = True
    if member is not None:
        meta[so.META_MEMBER] = str(member.id)
        params["client_reference_id"] = str(member.id)
        if member.stripe_customer_id:
            params["customer"] = member.stripe_customer_id
        else:
            params["customer_email"] = member.email
    methods = payment_method_params(manifest.payment_methods if manifest else [], product.mode)
    params.update(methods)  # type: ignore[typeddict-item]
    if product.mode == "payment":
        params["payment_intent_data"] = {"metadata": meta}
        if "customer" not in params:
            params["customer_creation"] = "always"  # so the buyer can use the billing portal
    else:
        params["subscription_data"] = {"metadata": meta}
        if price.trial_days:
            params["subscription_data"]["trial_period_days"] = price.trial_days
    session = so.as_dict(client.v1.checkout.sessions.create(params))
    url = session.get("url")
    if not url:
        raise CheckoutError(502, "The payment provider returned no checkout page.")
    return str(url)


@dataclass(frozen=True)
class SuccessView:
    """What the success page says about one Checkout Session.

    `state`: `access` (signed in and entitled), `mailed` (granted; sign-in link e-mailed),
    `unlocking` (paid, webhook not processed yet), `pending` (not paid yet), `open`
    (checkout not completed), `gift` (paid for someone else: the link goes to them).
    """

    state: str
    email: str | None
    product_key: str | None
    url: str


def success_view(
    pw: Paywall, db: Session, session: dict[str, Any], signed_in: Member | None
) -> SuccessView:
    """Classify a retrieved Checkout Session for the page (works before the webhook)."""
    key = so.metadata(session).get(so.META_PRODUCT)
    email = (so.session_email(session) or "").strip().lower() or None
    url = landing_url(pw.manifest(), key) if key else "/account/"
    if session.get("status") == "open":
        return SuccessView("open", email, key, url)
    if session.get("payment_status") not in PAID_STATUSES:
        return SuccessView("pending", email, key, url)
    if so.metadata(session).get(so.META_GIFT):  # bought for someone else: mailed to them
        return SuccessView("gift", email, key, "/account/")
    buyer = _buyer(db, session, email)
    now = pw.now()
    granted = (
        buyer is not None
        and key is not None
        and is_entitled(db, buyer, granted_keys(pw.manifest(), key), now)
    )
    if not granted:
        return SuccessView("unlocking", email, key, url)
    if signed_in is not None and buyer is not None and signed_in.id == buyer.id:
        return SuccessView("access", email, key, url)
    return SuccessView("mailed", email, key, url)


def _buyer(db: Session, session: dict[str, Any], email: str | None) -> Member | None:
    reference = session.get("client_reference_id")
    if reference and str(reference).isdigit():
        member = db.get(Member, int(reference))
        if member is not None:
            return member
    member = find_member_by_customer(db, so.object_id(session.get("customer")))
    return member or (find_member(db, email) if email else None)


def retrieve_session(pw: Paywall, session_id: str) -> dict[str, Any]:
    """The Checkout Session from Stripe; `CheckoutError` for malformed or unknown ids."""
    if not SESSION_ID_RE.match(session_id or ""):
        raise CheckoutError(400, "That is not a checkout session id.")
    try:
        return so.as_dict(pw.stripe().v1.checkout.sessions.retrieve(session_id))
    except stripe.InvalidRequestError:
        raise CheckoutError(404, "This checkout session does not exist.") from None


def billing_portal_url(pw: Paywall, member: Member) -> str:
    """A Stripe customer-portal session for the member, returning to the account page."""
    if not member.stripe_customer_id:
        raise CheckoutError(
            400, "There is no billing account for you yet: it starts with your first purchase."
        )
    portal = so.as_dict(
        pw.stripe().v1.billing_portal.sessions.create(
            {
                "customer": member.stripe_customer_id,
                "return_url": f"{pw.settings.base_url}/account/",
            }
        )
    )
    if not portal.get("url"):
        raise CheckoutError(502, "The payment provider returned no billing portal page.")
    return str(portal["url"])
