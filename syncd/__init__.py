"""syncd: keeps HubSpot lists and Mailchimp tags in step with customer segments."""

from syncd.memory import tune_polars_allocator

__version__ = "0.1.0"

tune_polars_allocator()  # before anything imports polars
