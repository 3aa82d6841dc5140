"""Identity and access: people log in for JWTs, systems and devices use API keys; roles and scope."""
