"""The Union transit procedure: declaration, guarantee, release, movement, arrival, discharge."""
