"""Bounces: delivery status notifications (RFC 3464) and the legacy formats MTAs write (pure)."""
