"""Planning with the scheduling core, dispatch to the plants, and following execution."""
