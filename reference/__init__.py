"""The truth: mpmath (50+ digits) and NumPy float64 implementations of the IS Reshape seeds.

Functions take log-domain inputs (``log_w``, logits) as mpmath numbers and evaluate at the
ambient ``mpmath.mp.dps``; callers scope the precision with ``mpmath.workdps``. This package
never imports torch.
"""
