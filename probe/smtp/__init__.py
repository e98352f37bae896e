"""SMTP as text, shared by send, analyze and the server: replies, enhanced codes (pure)."""
