"""Month names as a reader expects them, written out here and not read from the app, so
that a test of a page or an email checks the app's calendars against them."""

# The Solar Hijri months in Dari, Hamal first (the Afghan, zodiac names).
DARI_MONTHS = [
    "حمل",
    "ثور",
    "جوزا",
    "سرطان",
    "اسد",
    "سنبله",
    "میزان",
    "عقرب",
    "قوس",
    "جدی",
    "دلو",
    "حوت",
]
