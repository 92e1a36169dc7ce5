"""What comes back after a mail left: bounces, complaints and unsubscribe mails, read
from a mailbox or a provider's webhook, recorded on the ledger and the subscriber."""
