"""Helpers shared by the test suites (imported as ``tests.support.<module>``).

- ``ports``: free TCP ports on 127.0.0.1 for the services a test starts.
- ``stacks``: the local Kafka+Redis stacks the suites run on (plain, fault, secure), on free
  ports unless ``CALLROLES_TEST_*`` / ``CALLROLES_FAULT_*`` name them.
- ``workers``: ``callroles worker`` subprocesses, ready when their web port answers and the
  consumer group holds every live one.
- ``calls``: short generated calls, raw events, submitting and gathering results over Kafka.
- ``models``: the shipped default model (asserted present) and an untrained test export.
- ``http_server``: a small HTTP server of recordings, for fetch tests.
"""
