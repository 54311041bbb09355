"""The Mailchimp half of the emulator.

The one audience, its members, tags (static segments) and member activity, with Mailchimp's state,
seeded data, problem+json errors and connection cap.

`MailchimpApi` (in `api`) is what the core server drives; the handler modules are plain
functions of `(MailchimpState, Request)`.
"""
