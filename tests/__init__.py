"""The callroles test suites (a package, so suites import shared helpers as tests.support)."""
