"""Plan rewrites applied to the optimized query before it is split, one per module."""
