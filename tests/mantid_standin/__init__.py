"""Test-only Mantid stand-in (package ``mantid`` below) and the fixture that activates it for plugin tests."""
