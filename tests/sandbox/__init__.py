"""Tests of the sandbox CRM emulators."""
