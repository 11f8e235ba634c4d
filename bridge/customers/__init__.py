"""What agents keep about a shopper: notes, the shop's tags, the exclusive agent."""
