"""The worker process's composition root: `python -m hotline.worker` (Procfile).

The worker never imports a channel (ARCHITECTURE.md, "Layout"); what it needs of one, the email
channel's reader of a stored mail, is handed to it here before it starts.
"""

from __future__ import annotations

from functools import partial

from channels.email import mail_turn
from intake.settings import from_env
from worker.__main__ import main
from worker.context import set_mail_reader

if __name__ == "__main__":
    set_mail_reader(partial(mail_turn, relays=from_env().mail_relays))
    main()
