"""Mailchimp connector: audience members in, owned tags (static segments) out."""

from connectors.mailchimp.client import base_url_for
from connectors.mailchimp.connector import MailchimpConnector, subscriber_hash

__all__ = ["MailchimpConnector", "base_url_for", "subscriber_hash"]
