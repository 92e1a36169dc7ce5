"""The console's admin users: accounts with Argon2id passwords, and the audit log."""
