"""Maintenance windows: an asset silenced and unavailable to the scheduler for a while."""
