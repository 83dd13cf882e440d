"""Seeds of the summaries plugin's table for the cross-tenant route walk."""
