"""One module per ``glonet`` subcommand, each with ``register(subparsers)``."""
