"""Batches: inputs and pairings, settings, manifests, plans, shards, and running them."""
