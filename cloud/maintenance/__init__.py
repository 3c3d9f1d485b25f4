"""Maintenance services: alarms become alerts, alerts become tickets, technicians fix them."""
