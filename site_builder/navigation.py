"""Site navigation: placeholder."""


def arrange(nav, index):
    return nav
