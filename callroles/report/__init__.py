"""Per-call reports: timelines, tables and the HTML batch report."""
