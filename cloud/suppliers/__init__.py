"""Suppliers and purchasing: the registry of the network's local and other suppliers with the
materials they offer, the matching of bill-of-materials lines to them (:mod:`.matching`), and
the purchase requests a confirmed order makes, whose expected deliveries are the plan's release
dates for the operations that need the material."""
