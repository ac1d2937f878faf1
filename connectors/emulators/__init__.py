"""Loopback emulators of the CRM APIs, for tests and demos (never production).

``base.EmulatorBase`` is the shared threaded server with a request log and fault
switches; each vendor module subclasses it and serves that vendor's protocol.
"""
