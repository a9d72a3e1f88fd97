# As in Russian, which Kazakh readers of Cyrillic share: 500 000 000,5
DECIMAL_SEPARATOR = ","
THOUSAND_SEPARATOR = "\xa0"  # no-break space
NUMBER_GROUPING = 3
