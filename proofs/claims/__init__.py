"""One module per seed (``seed_000.py`` ... ``seed_004.py``) registering that seed's claims,
and ``lab.py``: the claims whose verdict comes from the exact laboratory (issue 12)."""
