"""QR 111 poster generator: A4 posters and sticker sheets with a school's QR code.

A pure library and a command (``python -m qr posters``); it knows nothing of the portal.
"""

from qr.batch import BadOutputDir, BatchResult, write_school_files
from qr.layout import poster_layout, sticker_sheet_layout
from qr.model import DEFAULT_LANGUAGES, Language, PosterSchool
from qr.render import PosterFormat, render_poster, render_sticker_sheet
from qr.schools_csv import BadSchoolsFile, read_schools_csv
from qr.urls import BadBaseURL, BadSchoolCode, printed_url, school_url, validate_base_url

__all__ = [
    "DEFAULT_LANGUAGES",
    "BadBaseURL",
    "BadOutputDir",
    "BadSchoolCode",
    "BadSchoolsFile",
    "BatchResult",
    "Language",
    "PosterFormat",
    "PosterSchool",
    "poster_layout",
    "printed_url",
    "read_schools_csv",
    "render_poster",
    "render_sticker_sheet",
    "school_url",
    "sticker_sheet_layout",
    "validate_base_url",
    "write_school_files",
]
