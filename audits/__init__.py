"""Adversarial suites that attack smotext-private's own audit: leak injection and membership inference."""
