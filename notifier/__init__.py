"""Messages back to the citizen: templates (zh-CN), choosing the channel, delivery with retry."""
