"""The data stage: get photos (TrashNet, urls.txt lists), check, inspect and split them."""
