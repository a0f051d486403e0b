"""The deltafed conformance suite."""
