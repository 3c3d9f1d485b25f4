"""The maintenance pages, under their own prefix so their names never clash with cloud/web."""
