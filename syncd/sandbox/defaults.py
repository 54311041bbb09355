"""The sandbox's default credentials, in a module that imports nothing.

The CLI shows them as option defaults (`syncd sandbox serve --hubspot-token ...`) without
loading the emulator; `Sandbox` uses them when none are given.
"""

DEFAULT_HUBSPOT_TOKEN = "sandbox-hubspot-token"  # noqa: S105 - public demo credential
DEFAULT_MAILCHIMP_KEY = "sandbox-mailchimp-key-us1"
