"""callroles: who is the agent, who is the customer, and how long each of them spoke."""

__version__ = "0.1.0"
