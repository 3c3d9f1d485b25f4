"""Jinja templates of the maintenance pages (a package so that the *.html package data ships)."""
