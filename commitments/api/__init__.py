"""The REST API for integrations (/api/v1/): bearer tokens, ETags, bulk sync."""
