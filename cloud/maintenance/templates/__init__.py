"""Jinja templates of the maintenance pages (packages so that the *.html package data ships)."""
