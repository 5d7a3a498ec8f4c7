"""The stream edge: table change records to domain events to reactions."""
