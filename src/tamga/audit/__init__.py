"""The audit record: every state change, appended to a hash chain that both states can verify."""
