"""Tests of the HubSpot sandbox, driven by the unchanged hubspot-api-client."""
