"""Channel adapters: native traffic ⇄ InboundMessage and outbox rows, and the web app."""
