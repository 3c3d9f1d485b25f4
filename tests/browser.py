"""Headless Chromium for page tests: Debian's browser (never a downloaded one), with the flags
that keep it off the closed network of CI machines."""

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
