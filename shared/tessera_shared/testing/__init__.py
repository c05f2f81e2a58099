"""Test support: real servers (servers.py) and the pytest fixtures built on them (fixtures.py)."""
