"""Channel and carrier connectors. They speak HTTP and return plain data
(``base.NormalizedOrder``); they never import ``app.models`` or touch the database."""
