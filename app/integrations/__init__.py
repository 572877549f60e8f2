"""Adapters for outside systems (WeChat, WeChat Pay, Alipay), each built from config.

Production and tests run the same adapter code; only the configured base URL differs (the real
provider, or its stand-in under /sandbox). Adapters raise their own typed errors.
"""
