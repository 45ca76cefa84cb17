"""The members desk and the members' own data in chromium (desktop and phone): an admin
finds a member, comps a course, sees it in the member's audit trail, refunds the purchase
through the local Stripe server and sees the access end; a non-admin gets 403 on every
admin page and action; the member downloads their data, changes their e-mail, deletes the
account, and can no longer sign in to it."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

pytestmark = pytest.mark.browser

COURSE = "community-launch"
COMP = "paid-community-ops"
ADMIN = "creator@example.com"
CS_ID = re.compile(r"cs_[A-Za-z0-9_]+")
CONFIRM = re.compile(r"http://[^\s]+/account/email/confirm\?token=[A-Za-z0-9_\-]+")


@pytest.fixture
def stack_settings() -> dict[str, Any]:
    return {"KP_ADMIN_EMAILS": ADMIN}


def second_person(browser, reader, name: str):  # noqa: ANN001, ANN201
    """Another browser (own cookies) at the same viewport, with the same checks as `reader`."""
    context = browser.new_context(
        viewport=reader.size,
        is_mobile=reader.viewport == "phone",
        has_touch=reader.viewport == "phone",
        locale="en-US",
    )
    context.route(re.compile(r"^https?://(?!127\.0\.0\.1[:/])"), lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(30_000)
    return type(reader)(page, reader.stack, reader.viewport, name)


def reads(person, lesson: str) -> bool:  # noqa: ANN001
    """Whether `person`'s browser shows the lesson's paid text (fetched with its cookies)."""
    return person.stack.site.canaries[lesson] in person.fetch(lesson)


def test_admin_desk_and_a_members_own_data(reader, stack, browser) -> None:
    member = f"member-{reader.viewport}@example.com"
    lesson = stack.site.paid_lessons(COURSE)[1]
    comp_lesson = stack.site.paid_lessons(COMP)[1]
    page = reader.page

    # The member buys the course.
    reader.sign_in(member, next_path=lesson)
    buy = f".kp-paywall form:has(input[name=course][value={COURSE}]) button.md-button--primary"
    reader.press(page.locator(buy))  # (the gift form beside it has a button too)
    assert CS_ID.search(page.url)
    reader.press(page.locator("button[name=action][value=pay]"))
    page.wait_for_url(f"{stack.url}/checkout/success?session_id=*")
    assert reads(reader, lesson) and not reads(reader, comp_lesson)

    # A non-admin: 403 on the desk's pages and actions.
    for path in ("/admin/members/", "/admin/members/1/", "/admin/members/export.csv"):
        assert page.request.get(stack.url + path).status == 403, path
    for action in ("comp", "end", "refund", "login-link", "sign-out"):
        answer = page.request.post(
            f"{stack.url}/admin/members/1/{action}",
            form={"key": f"course:{COMP}", "entitlement": "1"},
            headers={"Origin": stack.url},
        )
        assert answer.status == 403, action

    # The admin finds the member and comps the other course with an end date and a note.
    admin = second_person(browser, reader, "admin")
    try:
        desk = admin.page
        admin.sign_in(ADMIN, next_path="/admin/members/")
        admin.visit("/admin/members/")
        desk.locator("input[name=email]").fill(member)
        admin.press(desk.locator("form[role=search] button[type=submit]"))
        admin.check_fits_width()
        admin.press(desk.locator(".kp-desk-members a", has_text=member))
        assert desk.locator("h1").inner_text().strip() == f"Member {member}"
        comp = desk.locator("form.kp-desk-comp")
        comp.locator("select[name=key]").select_option(f"course:{COMP}")
        comp.locator("input[name=until]").fill("2099-06-30")
        comp.locator("input[name=note]").fill("thanks for the talk")
        admin.press(comp.locator("button[type=submit]"))
        assert desk.locator(".kp-note").inner_text() == f"Granted course:{COMP}."
        granted = desk.locator(".kp-desk-trail tr.kp-audit--grant", has_text=f"course:{COMP}")
        assert "admin:creator@example.com" in granted.inner_text()
        admin.check_fits_width()
        admin.screenshot("members-desk", desk.locator("h1"), height=900)
        assert reads(reader, comp_lesson)

        # …and refunds the purchase through Stripe: the webhook ends the access.
        purchase = desk.locator(f"tr.kp-ent[data-key='course:{COURSE}']")
        desk.once("dialog", lambda dialog: dialog.accept())
        admin.press(purchase.locator("form[action$='/refund'] button"))
        assert "asked of Stripe" in desk.locator(".kp-note").inner_text()
        stack.stripe.drain()  # events of a /v1 call go out just after its answer
        assert stack.stripe.events("charge.refunded")
        admin.visit(desk.url.split("?")[0].removeprefix(stack.url))
        assert purchase.locator("td").nth(2).inner_text() == "revoked"
        revoke = desk.locator(".kp-desk-trail tr.kp-audit--revoke", has_text=f"course:{COURSE}")
        assert "webhook:evt_" in revoke.inner_text()
        assert not reads(reader, lesson) and reads(reader, comp_lesson)
    finally:
        admin.page.context.close()

    # The member downloads their data…
    reader.visit("/account/")
    with page.expect_download() as download:
        page.locator("a[href='/account/data.json']").click()
    data = json.loads(download.value.path().read_text())
    assert data["account"]["email"] == member
    assert {(a["key"], a["status"]) for a in data["access"]} == {
        (f"course:{COURSE}", "revoked"),
        (f"course:{COMP}", "active"),
    }

    # …changes the address (the link goes to the new one)…
    new = f"renamed-{reader.viewport}@example.com"
    form = page.locator("form.kp-change-email")
    form.locator("input[name=new_email]").fill(new)
    reader.press(form.locator("button[type=submit]"))
    assert new in page.locator(".kp-my-data-result").inner_text()
    mail = stack.outbox.messages(new)[-1].get_body(preferencelist=("plain",))
    link = CONFIRM.search(mail.get_content()).group(0)
    page.goto(link)
    reader.press(page.locator("form.kp-confirm-email button"))
    reader.visit("/account/")
    assert reader.signed_in_as() == new

    # …asks for a sign-in link elsewhere, then deletes the account.
    seen = reader.mails_to(new)
    page.request.post(f"{stack.url}/api/login", form={"email": new}, headers={"Origin": stack.url})
    old_link = stack.outbox.wait_for_link(new, seen)
    reader.visit("/account/")
    form = page.locator("form.kp-delete-account")
    form.locator("input[name=confirm_email]").fill(new)
    reader.press(form.locator("button[type=submit]"))
    assert "Your account is deleted" in page.locator(".kp-my-data-result").inner_text()
    reader.visit("/account/")
    assert reader.signed_in_as() is None
    assert page.locator("form[action='/api/login']").first.is_visible()
    page.goto(old_link)  # the link asked for before the deletion signs nobody in
    assert "/api/login/callback" in page.url and page.locator("form#kp-confirm").count() == 0
    reader.visit(comp_lesson)
    assert reader.signed_in_as() is None and not reads(reader, comp_lesson)
