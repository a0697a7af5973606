"""The Lean Plan domain: aggregates, events, values and the application; no I/O of its own."""
