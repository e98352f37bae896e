"""Renderers: results -> tables and documents for humans and machines (pure)."""
