"""Response cache for Transom on Redis or memory."""
