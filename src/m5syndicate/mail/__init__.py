"""Bytes and wires: the one MIME builder (`message`), DKIM signing (`dkim`), the
`Transport` protocol with the outbox (`transport`) and SMTP (`smtp`) behind it.

Knows nothing of editions or subscribers: it turns an `Envelope` into bytes and bytes into
a server's reply. A new way out (Amazon SES, an HTTP API) is a new Transport here.
"""
