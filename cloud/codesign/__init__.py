"""Product families, their expression language, and the co-designed configurations."""
