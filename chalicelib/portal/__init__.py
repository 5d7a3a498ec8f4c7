"""The Subcontractor Portal: server-rendered HTML over the portal use cases (cookie session)."""
