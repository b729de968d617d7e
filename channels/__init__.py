"""Channel adapters: native traffic ⇄ InboundMessage / OutboundMessage, and the web app."""
