"""Periodic jobs on APScheduler (in-memory job store, jobs registered from code).

Each job is a thin wrapper: an app context, a database lock so that two scheduler
processes never run it at once, a call into services with actor ``job:<name>``.
"""
