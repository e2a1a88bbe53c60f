"""Device drivers the model needs (/dev/zero)."""
