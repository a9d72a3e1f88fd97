# Latin digits by default (Eastern Arabic digits are a per-user choice applied on output),
# so the Latin separators go with them: 500,000,000.5
DECIMAL_SEPARATOR = "."
THOUSAND_SEPARATOR = ","
NUMBER_GROUPING = 3
