"""People: address validation, subscribe / confirm / preferences / unsubscribe
(`subscriptions`), the roster an admin manages (`roster`), CSV import and export
(`csvio`), confirmation tokens (`tokens`) and the signed links in every mail (`links`).
"""
