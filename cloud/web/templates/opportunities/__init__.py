"""Jinja templates of the opportunity pages (a package so that the *.html package data ships)."""
