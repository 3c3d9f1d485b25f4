"""Members' scorecards from real events, anonymised network benchmarks, and the score that
ranks partners in search."""
