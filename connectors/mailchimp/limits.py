"""Mailchimp's published limits, each next to its source (sections of api-facts.md)."""

from __future__ import annotations

#: 10 simultaneous connections per API key and no per-minute quota (api-facts 2.4, 2.5); nine
#: at once keeps one connection spare for a person's script or a second syncd command.
CONCURRENCY = 9
#: Member and segment listings: `count` at most 1,000 (api-facts 2.2, 2.3).
PAGE_MAX = 1000
#: Static-segment batch: at most 500 addresses in each of its two arrays (api-facts 2.3).
SEGMENT_BATCH_MAX = 500
