"""vibemap: musical personalities and next-best-track recommendations."""
