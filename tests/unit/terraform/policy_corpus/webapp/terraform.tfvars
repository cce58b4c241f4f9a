environment    = "staging"
instance_count = 3
