"""Jinja templates of the order pages (a package so that the *.html package data ships)."""
