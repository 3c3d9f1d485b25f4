"""Forming the consortium: invitations by network kind, the selection, the consortium record."""
