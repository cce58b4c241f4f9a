"""Identity: scrypt passwords, JWT access tokens, refresh-token families."""
