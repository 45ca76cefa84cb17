"""Pages the paywall renders into the site's shell (account, sign-in answer, checkout
success) behave like the built pages: no script errors, one heading. (Every journey also
fails on any script error; the `reader` fixture checks.)"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.browser

SHELL_PAGES = ["/account/", "/account/?next=/pricing/"]
BUILT_PAGES = ["/", "/articles/why-free-content-comes-first/", "/courses/community-launch/"]


@pytest.fixture(params=["desktop"])
def viewport(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_built_pages_have_no_script_errors_and_one_heading(reader) -> None:
    for path in BUILT_PAGES:
        reader.visit(path)
        assert reader.page.locator("h1").count() == 1, f"{path}: not exactly one <h1>"
    assert reader.errors == []


def test_shell_pages_have_no_script_errors(reader) -> None:
    for path in SHELL_PAGES:
        reader.visit(path)
    assert reader.errors == []


def test_shell_pages_have_one_heading(reader) -> None:
    for path in SHELL_PAGES:
        reader.visit(path)
        headings = reader.page.locator("h1").all_inner_texts()
        assert len(headings) == 1, f"{path}: headings {headings}"
