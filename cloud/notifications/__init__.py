"""notifications domain: emails to people, by their preferences, through the outbox."""
