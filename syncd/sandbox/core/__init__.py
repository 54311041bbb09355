"""What both emulated APIs share.

The HTTP server and its request pipeline, routing, limits, faults, stats, the clock, the error type
and the `/_sandbox/...` control endpoints.

Nothing here knows a vendor's paths or wire shapes; each vendor package plugs in through the
`Vendor` protocol of `core.interfaces`, and the `Sandbox` facade through `Host`.
"""
