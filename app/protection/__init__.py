"""Witness protection in free text: one policy for every text that leaves the server.

A witness's identity reaches nobody without `can_identify_witnesses` on a case the witness is
linked to. The identity fields are kept so by `witness_view`; this package keeps the promise in
the places where names really turn up: statements, notes, file names, tags, EXIF, audit
payloads. See docs/witness-protection.md for the design and what remains.
"""
