"""Alerts: alarms, unit states and rollup rules become alerts, which silences (matchers) and
inhibition rules suppress or which feed their asset's ticket."""
