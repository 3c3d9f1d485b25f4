"""The demo network's plant files (``glonet sim``): one per partner plant, and the field
products."""
