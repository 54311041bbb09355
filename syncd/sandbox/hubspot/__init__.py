"""The HubSpot half of the emulator.

CRM objects, search, Lists v3, properties, associations and the daily usage endpoint, with HubSpot's
state, seeded data, errors and rate limits.

`HubSpotApi` (in `api`) is what the core server drives; the handler modules are plain functions
of `(HubSpotState, Request)`.
"""
