"""ivr: versioned call flows, their runtime and simulator."""
