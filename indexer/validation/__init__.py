"""The validation analyses: pure functions that judge a build (they build nothing)."""
