"""dialer: outbound phone-call campaigns through Retell AI's v2 call API."""

__version__ = "0.1.0"
