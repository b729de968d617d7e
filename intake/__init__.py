"""The domain of Hotline Gateway: tickets, the dialog, policy profiles, the stores.

Nothing here imports HTTP, Telegram, SMTP or RQ types (ARCHITECTURE.md, "Layout").
"""
