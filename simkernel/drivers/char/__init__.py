"""Character devices."""
