"""All SQL of m5syndicate: schema, engine, migrations, and one module per entity.

Nothing outside this package builds a query; nothing in it imports httpx, jinja2,
aiosmtplib or feedgen.
"""
