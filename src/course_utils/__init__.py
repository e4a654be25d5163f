"""course_utils: the small library that the course's notebooks and labs import.

Modules (each one job): runtime (profile, device, seed, banner), data (checksummed data sets),
models (MiniLM loader and the course's own models), train (one training loop), viz (plots),
nbtools (notebook hygiene helpers). Chapters add their own modules next to these.
"""
__version__ = "0.1.0"
