"""After delivery: each order's ledger (members' revenue by the agreed terms, their costs, the
network's fee)."""
