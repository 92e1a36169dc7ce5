"""m5syndicate: collect a defence-news site, publish its feeds, send its digests."""

__version__ = "0.1.0"
