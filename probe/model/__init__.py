"""The vocabulary that flows between stages: frozen, typed results of every stage, and their JSON.

The bottom of the layering: `probe.model` imports nothing else of probe (the architecture test
enforces it). Results are frozen dataclasses; JSON is a separate projection (`model.json`) so a
stored run can be loaded back into the same types and re-analysed offline.
"""
