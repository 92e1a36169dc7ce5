"""Digests and subscriptions: editions, rendering, messages, transports, delivery."""
