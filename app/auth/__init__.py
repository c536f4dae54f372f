"""Tokens, principals, roles and case access."""
