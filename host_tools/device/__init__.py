"""Everything the laptop does to the board: flash, deploy, capture, pull, inbox, monitor."""
