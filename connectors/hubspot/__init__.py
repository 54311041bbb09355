"""HubSpot connector: contacts (+ deals and companies) in, MANUAL lists and properties out."""

from connectors.hubspot.connector import HubSpotConnector

__all__ = ["HubSpotConnector"]
