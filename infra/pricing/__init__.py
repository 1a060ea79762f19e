"""Monthly cost of each stack's own resources at minimum size, priced from a dated table (`make cost`)."""
