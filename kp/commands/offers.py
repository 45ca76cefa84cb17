"""`kp offers add|list|end`: offers are a Stripe coupon and promotion code, made through the
SDK (`paywall.billing.offers`); Stripe keeps them, so nothing is written to the database.
An offer link is the page's URL with `?offer=CODE`."""

from __future__ import annotations

import click
import stripe

from kp.commands.admin import paywall_context
from paywall.billing.offers import (
    Offer,
    OfferError,
    check_new_offer,
    create_offer,
    end_offer,
    list_offers,
)
from paywall.growth.referrals import site_root
from paywall.runtime.context import Paywall, StripeNotConfigured


@click.group("offers")
def offers_group() -> None:
    """Offers: a discount (Stripe coupon + promotion code) and its link ?offer=CODE."""


def _stripe(pw: Paywall) -> stripe.StripeClient:
    try:
        return pw.stripe()
    except StripeNotConfigured:
        raise click.ClickException(
            "STRIPE_SECRET_KEY is not set: offers are coupons and promotion codes in Stripe"
        ) from None


def _line(offer: Offer, pw: Paywall) -> str:
    """One offer, tab-separated: code, name, off, product, last day, redemptions, state."""
    limit = f"/{offer.max_redemptions}" if offer.max_redemptions is not None else ""
    last = offer.last_day.isoformat() if offer.last_day else "no end date"
    return "\t".join(
        [
            offer.code,
            offer.name,
            f"{offer.off_label()} off",
            offer.product_key or "everything",
            f"until {last}",
            f"used {offer.times_redeemed}{limit}",
            offer.state(pw.now()),
        ]
    )


@offers_group.command("add")
@click.argument("name")
@click.option("--percent", help="Percent off (20).")
@click.option("--amount", help="Amount off in major units (10), with --currency.")
@click.option("--currency", help="The currency of --amount (usd, cny).")
@click.option("--course", help="Only for this course (its slug).")
@click.option("--tier", help="Only for this membership tier.")
@click.option("--expires", help="The last day it can be used, YYYY-MM-DD (UTC).")
@click.option("--max-redemptions", type=int, help="How many purchases may use it.")
@click.option("--code", help="The code in the link ?offer=CODE (default: from NAME).")
def offers_add(
    name: str,
    percent: str | None,
    amount: str | None,
    currency: str | None,
    course: str | None,
    tier: str | None,
    expires: str | None,
    max_redemptions: int | None,
    code: str | None,
) -> None:
    """Create the offer in Stripe and print its link."""
    with paywall_context(migrate=False) as pw:
        client = _stripe(pw)
        try:
            new = check_new_offer(
                pw.manifest(),
                name,
                percent=percent,
                amount=amount,
                currency=currency,
                course=course,
                tier=tier,
                expires=expires,
                max_redemptions=max_redemptions,
                code=code,
                today=pw.now().date(),
            )
            offer = create_offer(client, new)
        except OfferError as exc:
            raise click.ClickException(str(exc)) from None
        except stripe.StripeError as exc:
            raise click.ClickException(f"Stripe refused: {exc.user_message or exc}") from None
        manifest = pw.manifest()
        page = "/"
        if manifest is not None and offer.product_key:
            kind, _, key = offer.product_key.partition(":")
            found = manifest.courses.get(key) if kind == "course" else None
            if kind == "tier" and key in manifest.tiers and manifest.tiers[key].courses:
                found = manifest.courses.get(manifest.tiers[key].courses[0])
            page = found.url if found else page
        click.echo(_line(offer, pw))
        click.echo(f"offer link: {site_root(pw)}{page}?offer={offer.code}")


@offers_group.command("list")
def offers_list() -> None:
    """Every offer, newest first, ended ones too."""
    with paywall_context(migrate=False) as pw:
        client = _stripe(pw)
        try:
            offers = list_offers(client)
        except stripe.StripeError as exc:
            raise click.ClickException(f"Stripe refused: {exc.user_message or exc}") from None
        if not offers:
            click.echo("no offers yet (kp offers add NAME --percent 20)")
        for offer in offers:
            click.echo(_line(offer, pw))


@offers_group.command("end")
@click.argument("code")
def offers_end(code: str) -> None:
    """End an offer now: its promotion code is deactivated in Stripe."""
    with paywall_context(migrate=False) as pw:
        client = _stripe(pw)
        try:
            offer = end_offer(client, code)
        except OfferError as exc:
            raise click.ClickException(str(exc)) from None
        except stripe.StripeError as exc:
            raise click.ClickException(f"Stripe refused: {exc.user_message or exc}") from None
        click.echo(f"ended {offer.code} ({offer.name}): used {offer.times_redeemed} times")


def register(group: click.Group) -> None:
    group.add_command(offers_group)
