"""Preventive maintenance plans: by calendar interval and/or operating hours."""
