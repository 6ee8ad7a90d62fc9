"""A faithful, in-memory emulator of one HubSpot portal's CRM API.

It serves the paths, shapes, paging caps, limits, errors and webhooks the official
``hubspot-api-client`` meets on api.hubapi.com, over a real socket, so the SDK can be used
unchanged against it. Public surface: :class:`HubSpotSandbox` and its option types.
"""

from __future__ import annotations

from sandbox.hubspot.ratelimit import RateLimits
from sandbox.hubspot.sandbox import HubSpotSandbox
from sandbox.hubspot.webhooks import WebhookFaults, WebhookSubscription

__all__ = ["HubSpotSandbox", "RateLimits", "WebhookFaults", "WebhookSubscription"]
