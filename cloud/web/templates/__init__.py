"""Jinja templates of the pages (a package so that the *.html package data ships)."""
