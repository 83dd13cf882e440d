"""Seeds of the agents plugin's tables for the cross-tenant route walk."""
