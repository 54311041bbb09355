"""syncd: keeps HubSpot lists and Mailchimp tags in step with customer segments."""

__version__ = "0.1.0"
