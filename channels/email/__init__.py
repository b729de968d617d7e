"""The email channel, in one package (ARCHITECTURE.md: one adapter per channel):

- ``smtp``: the listener (``python -m channels.email.smtp``), which stores the raw mail in SQL
  before it answers 250;
- ``parse``: a stored mail read into what the dialog needs (MIME, charsets, quoted replies, the
  ticket tag, automated mail);
- ``channel``: the worker's reader of a stored mail (``mail_turn``), the sender of our replies and
  the stub outbox;
- ``reply``: the reply itself, in the citizen's thread.
"""

from channels.email.channel import (
    EMPTY_SENDER,
    OUTBOX_ADDRESS,
    EmailSender,
    MailOutbox,
    mail_turn,
    message_id_of,
)

__all__ = ["EMPTY_SENDER", "OUTBOX_ADDRESS", "EmailSender", "MailOutbox", "mail_turn", "message_id_of"]
