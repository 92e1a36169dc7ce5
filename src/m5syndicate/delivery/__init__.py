"""The ledger-driven send: the `send_due` use case (`send`), the runner that claims, works
and renews leases (`runner`), the group-committing outcome writer (`writer`), the failure
policy as a pure function (`policy`), and dry runs, previews and test sends (`preview`).

Composes with `digest`, sends through `mail.transport.Transport`, records on the ledger.
"""
