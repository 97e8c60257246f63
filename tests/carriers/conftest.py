"""Carrier tests. Pure parsing tests need no database; the sandbox fixtures start one carrier
sandbox per session (time scale 0.001: a parcel's days pass in seconds)."""
