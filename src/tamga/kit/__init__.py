"""Shared infrastructure: database, money, clock, errors, pagination, HTTP plumbing."""
