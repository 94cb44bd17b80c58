"""One module per seed (``seed_000.py`` ... ``seed_004.py``) registering that seed's claims."""
