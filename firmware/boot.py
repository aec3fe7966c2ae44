# boot.py: runs on every reset before main.py. Kept empty of work: a wake cycle should import little.
