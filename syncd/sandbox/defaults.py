"""The emulator's default credentials, importable without loading the emulator itself.

`syncd sandbox serve --help` shows them, so the command line needs them at start-up.
"""

DEFAULT_HUBSPOT_TOKEN = "sandbox-hubspot-token"  # noqa: S105 - public demo credential
DEFAULT_MAILCHIMP_KEY = "sandbox-mailchimp-key-us1"
