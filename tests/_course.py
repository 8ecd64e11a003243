"""What the tests expect of the course as a whole, written down once."""

#: The six assignments, one per chapter, in order.
ASSIGNMENTS = [
    "01_convolution",
    "02_filters",
    "03_parameters",
    "04_cnn_structure",
    "05_stride_padding",
    "06_alexnet",
]
