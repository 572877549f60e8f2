"""Wire formats and signatures of outside systems (WeChat Pay APIv3, Tencent Cloud TC3): pure
functions shared by our adapters and the sandbox stand-ins that play those systems."""
