"""The synthetic demo catalogue: tracks drawn from statistics of real audio features
(``generator.generate_catalogue``); nothing in it is real data."""
