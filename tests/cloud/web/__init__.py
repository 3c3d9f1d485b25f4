"""Tests of the pages (cloud/web)."""
