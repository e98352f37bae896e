"""Analyze stage: observations -> facts (pure). Received chains, sent-vs-delivered diffs,
bounces (DSNs), product fingerprints, reply-code knowledge and MX anomalies."""
