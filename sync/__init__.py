"""Replication between centres and the regional hub (the engine, and later client and server)."""
